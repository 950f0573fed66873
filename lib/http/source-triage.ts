/**
 * The storage core's triage of a source from its headers alone (ranged GETs of its first bytes, the same
 * `decide` the restore runs), so the origin knows whether a restore would run and on how many pixels
 * before it starts one.
 */
import type { OutputFormat } from "../config.js";
import { restoreOptionsFromConfig } from "../restore/options.js";
import type { TriageDecision } from "../restore/types.js";
import type { Deriver } from "../storage/derive.js";
import { getObjectRange } from "../storage/s3.js";
import type { ObjectHead } from "./types.js";

/** First read, as the storage core's (lib/storage/derive.ts). */
const HEADER_BYTES = 64 * 1024;
/** Headers needing more than this (huge EXIF or ICC segments) are not worth it here: no answer. */
const MAX_HEADER_BYTES = 1024 * 1024;

/** null: no answer from the headers (gone, changed, or headers too long); the restore then decides. */
export type SourceTriage = (source: ObjectHead, format: OutputFormat) => Promise<TriageDecision | null>;

export function createSourceTriage(deriver: Deriver, bucket: string): SourceTriage {
  const { s3, config } = deriver;
  return async (source, format) => {
    if (source.size <= 0) return null;
    const limit = Math.min(source.size, MAX_HEADER_BYTES);
    const eTag = source.etag === "" ? undefined : source.etag;
    let input = await getObjectRange(s3, bucket, source.key, {
      start: 0,
      end: Math.min(deriver.headerBytes ?? HEADER_BYTES, limit) - 1,
      eTag,
      maxBytes: limit,
    });
    const options = { ...restoreOptionsFromConfig(config, format), totalBytes: source.size };
    for (;;) {
      if (input === null) return null;
      const decision = await deriver.decide(input, options);
      if (decision.action !== "need-more-bytes") return decision;
      const want = Math.min(source.size, Math.max(decision.atLeast, input.byteLength * 2));
      if (want > limit || want <= input.byteLength) return null;
      const more = await getObjectRange(s3, bucket, source.key, {
        start: input.byteLength,
        end: want - 1,
        eTag,
        maxBytes: want - input.byteLength,
      });
      if (more === null) return null;
      const grown = new Uint8Array(input.byteLength + more.byteLength);
      grown.set(input);
      grown.set(more, input.byteLength);
      input = grown;
    }
  };
}
