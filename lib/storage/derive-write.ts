/**
 * The storage core's last step: one PUT of the derivative, conditional on its key as last seen (write.ts),
 * and what a lost race (412) means. Nothing written is read back: the outcome carries the bytes and the
 * metadata as stored.
 */
import type { RestoreOutcome } from "../restore/types.js";
import { derivativeState, outcomeBase, type RunLog } from "./derive-steps.js";
import type { DeriveOutcome, DeriveRequest, Deriver, WrittenOutcome } from "./derive-types.js";
import { buildDerivativeMetadata, DERIVATIVE_CACHE_CONTROL } from "./metadata.js";
import { headObject, type ObjectHead, putObject } from "./s3.js";
import { WriteRaceLostError, writeCondition } from "./write.js";

/** Retries of the write after a lost race, when what won is an older version's derivative. */
const MAX_WRITES = 3;

/**
 * One PUT, conditional on the derivative's key as last seen (write.ts). A lost race (412) is looked into:
 * a derivative of this version (or a foreign object) stands; one of an older version, written by a run
 * that started earlier but finished later, is replaced while the source is still this version.
 */
export async function write(
  deriver: Deriver,
  request: DeriveRequest,
  run: {
    source: ObjectHead;
    existing: ObjectHead | null;
    input: Uint8Array;
    restored: Extract<RestoreOutcome, { action: "restored" }>;
    restoreWallMs: number;
  },
  log: RunLog,
): Promise<DeriveOutcome> {
  const { s3, model } = deriver;
  const { bucket, key } = request;
  const { source, restored } = run;
  const metadata = buildDerivativeMetadata({
    sourceKey: key,
    sourceETag: source.eTag ?? "",
    sourceVersion: source.versionId,
    quality: log.quality,
    earlierQuality: restored.description.recompressed?.quality,
    model,
    restoreMs: restored.description.totalMs,
    encoding: restored.description.encoding,
  });
  let seen = run.existing;
  for (let attempt = 1; ; attempt++) {
    request.signal?.throwIfAborted();
    try {
      await putObject(s3, {
        bucket,
        key: log.derivativeKey,
        body: restored.output,
        contentType: restored.contentType,
        cacheControl: DERIVATIVE_CACHE_CONTROL,
        condition: writeCondition(seen),
        multipart: deriver.multipart,
        metadata,
      });
      return written(request, log, run, metadata, run.existing !== null);
    } catch (error) {
      if (!(error instanceof WriteRaceLostError)) throw error;
      const now = await headObject(s3, bucket, log.derivativeKey);
      const state = now === null ? "none" : derivativeState(now, source, model);
      if (state === "foreign")
        return log.skip("key-taken", `${log.derivativeKey} was written by someone else`);
      if (state !== "stale" || attempt >= MAX_WRITES) return log.skip("raced", error.message);
      const sourceNow = await headObject(s3, bucket, key);
      if (sourceNow?.eTag !== source.eTag) return log.skip("superseded", "the source changed during restore");
      seen = now;
    }
  }
}

function written(
  request: DeriveRequest,
  log: RunLog,
  run: {
    source: ObjectHead;
    input: Uint8Array;
    restored: Extract<RestoreOutcome, { action: "restored" }>;
    restoreWallMs: number;
  },
  metadata: Readonly<Record<string, string>>,
  replaced: boolean,
): WrittenOutcome {
  const { restored } = run;
  return {
    ...outcomeBase(request, log),
    action: "written",
    replaced,
    sourceETag: run.source.eTag ?? "",
    model: metadata["unjpeg-model"] ?? "",
    format: restored.format,
    contentType: restored.contentType,
    encoding: restored.description.encoding,
    output: restored.output,
    metadata,
    inputBytes: run.input.byteLength,
    restoreMs: restored.description.totalMs,
    restoreWallMs: run.restoreWallMs,
    timings: restored.description.timings,
  };
}
