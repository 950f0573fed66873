import { giveBack } from "../image/buffer-pool.js";
import { describeSetting, type EncoderSetting } from "../image/encoder-setting.js";
import { ImageError } from "../image/errors.js";
import { checkFormatHolds } from "../image/format-limits.js";
import { uprightOffset } from "../image/offset.js";
import { checkScanLength } from "../jpeg/index.js";
import { shippedModelDir } from "../model/default-model.js";
import { folderForQuality } from "../model/model-folder.js";
import type { PipelineInput } from "../model/pipeline.js";
import { DEFAULT_MODEL_CONCURRENCY, modelRunQueue } from "../model/run-queue.js";
import { TRIAGE_DEFAULTS, takeOver, triage } from "./decide.js";
import { earlierCellsSkipReason } from "./earlier-cells.js";
import { type HeavyModules, loadHeavyModules } from "./heavy-modules.js";
import { earlierTables } from "./resaved.js";
import { type RestoreRun, skipped, type Triaged } from "./restore-run.js";
import { stepper } from "./stepper.js";
import type { ProjectionDescription, RestoreDescription, RestoreOptions, RestoreOutcome } from "./types.js";

export async function restore(bytes: Uint8Array, options: RestoreOptions = {}): Promise<RestoreOutcome> {
  const timings: Record<string, number> = {};
  const cpuTimings: Record<string, number> = {};
  const run: RestoreRun = {
    bytes,
    options,
    format: options.format ?? "jpeg",
    limits: {
      maxPixels: options.maxPixels ?? TRIAGE_DEFAULTS.maxPixels,
      maxBytes: options.maxBytes ?? TRIAGE_DEFAULTS.maxBytes,
    },
    start: performance.now(),
    timings,
    cpuTimings,
    timed: stepper(timings, cpuTimings, options.signal),
  };
  const triaged = await inspectStep(run);
  if ("action" in triaged) return triaged;
  refuseStep(run, triaged);
  const heavy = await loadHeavyModules();
  // From here the image is decoded and the model runs: one turn of the process's run queue
  // (lib/model/run-queue.ts), so that invocations in flight together share the sessions at bounded memory.
  const endTurn = await run.timed("queue", () =>
    modelRunQueue.enter(options.modelConcurrency ?? DEFAULT_MODEL_CONCURRENCY, options.signal),
  );
  try {
    return await restoreInTurn(run, triaged, heavy);
  } finally {
    endTurn();
  }
}

/** Inspect: the triage of the whole file, or the caller's decision taken over; a skip ends here. */
async function inspectStep(run: RestoreRun): Promise<Triaged | RestoreOutcome> {
  const { bytes, options } = run;
  // The caller's decision when it made one (the S3 paths): the headers are read, nothing decided again.
  const { decision, match, tables, inspection } = await run.timed("inspect", () =>
    options.decided !== undefined
      ? takeOver(bytes, options.decided)
      : triage(bytes, {
          ...run.limits,
          force: options.force,
          skipQuality: options.skipQuality,
          totalBytes: bytes.length,
          detectResaved: options.detectResaved,
          recompressed: options.recompressed,
        }),
  );
  const base = {
    quality: decision.action === "need-more-bytes" ? null : decision.quality,
    qualityMatch: match,
    predictedQuality: null,
    model: null,
    width: decision.action === "restore" ? decision.width : null,
    height: decision.action === "restore" ? decision.height : null,
    inputBytes: bytes.length,
    outputBytes: null,
    format: null,
    timings: run.timings,
  } satisfies Omit<RestoreDescription, "totalMs">;
  if (decision.action === "skip") return skipped(run, base, decision.reason, decision.message);
  // With the whole file in hand this means headers cut short.
  if (decision.action === "need-more-bytes")
    return skipped(run, base, "unsupported", "the JPEG ends inside its headers");
  const { quality, width, height, recompressed } = decision;
  return { quality, width, height, tables, inspection, recompressed, base };
}

/**
 * Refuse, from the headers: scans far shorter than the frame they claim would decode padded (JpegError),
 * and an output format too small for the image fails here, not at encode time after the model ran.
 */
function refuseStep(run: RestoreRun, triaged: Triaged): void {
  if (triaged.inspection !== null) checkScanLength(triaged.inspection, run.bytes.length);
  checkFormatHolds(run.format, triaged.width, triaged.height);
}

/** Decode, model, project, encode: what holds an image in memory and runs the model. */
async function restoreInTurn(
  run: RestoreRun,
  triaged: Triaged,
  heavy: HeavyModules,
): Promise<RestoreOutcome> {
  const { bytes, options, format, timed } = run;
  // Decoded before the model is opened: a file the decoder refuses costs no model load.
  let decoded: Awaited<ReturnType<HeavyModules["decodeImage"]>>;
  try {
    decoded = await timed("decode", () => heavy.decodeImage(bytes, run.limits));
  } catch (error) {
    if (error instanceof ImageError && error.code === "IMAGE_UNSUPPORTED")
      return skipped(run, triaged.base, "unsupported", error.message);
    if (error instanceof ImageError && error.code === "IMAGE_TOO_LARGE")
      return skipped(run, triaged.base, "too-large", error.message);
    throw error;
  }
  const { info } = decoded;
  const told = toldCompression(triaged, info.orientation);
  // The weights for this compression (a band of the model for the hardest ones, docs/CONTRACTS.md).
  const { band, sessions } = await timed("load", async () => {
    const chosen = await folderForQuality(options.modelDir ?? shippedModelDir(), told.tableQuality);
    const opened = await heavy.openModel(chosen.dir, {
      provider: options.executionProvider,
      threads: options.threads,
      inWorker: options.modelInWorker,
    });
    return { band: chosen.band, sessions: opened };
  });
  const encodeOptions = { format, grey: info.grey, modelTag: sessions.model.tag } as const;
  // Forced (known now: the projection leaves room for its quantization) or "auto" (chosen after it).
  const planned = heavy.plannedSetting(format, options.quality);
  const meanwhile = startWhileModelRuns(run, triaged, heavy, info, encodeOptions);
  const result = await modelStep(run, told, heavy, sessions, decoded);
  let output: Uint8Array;
  let setting: EncoderSetting;
  let projection: ProjectionDescription;
  try {
    projection =
      meanwhile.coefficients === undefined
        ? { applied: false, reason: meanwhile.notProjected! }
        : await heavy.projectRestored(
            result.rgb,
            info,
            meanwhile.coefficients,
            timed,
            heavy.outputMargins(planned),
            triaged.recompressed,
          );
    // After the projection: `quality: "auto"` is chosen on the pixels that are encoded (encode-step.ts).
    setting = await heavy.settingToWrite(
      planned,
      format,
      { restored: result.rgb, decoded: decoded.rgb },
      info,
      {
        keepGain: options.keepGain,
        errorTransfer: sessions.model.manifest.encodeErrorTransfer,
        trellis: options.trellis === true,
      },
      timed,
    );
    const encode = { ...encodeOptions, setting };
    output = await timed("encode", () =>
      heavy.encodeRestored(bytes, result.rgb, info.width, info.height, encode, meanwhile.carrier),
    );
  } finally {
    giveBack(result.rgb.buffer); // the next restore blends into it (fresh memory is slow to touch)
  }
  const { recompressed } = triaged;
  return {
    action: "restored",
    output,
    contentType: heavy.CONTENT_TYPES[format],
    format,
    description: {
      ...triaged.base,
      predictedQuality:
        result.predictedQuality === null ? null : Math.round(result.predictedQuality * 10) / 10,
      model: sessions.model.tag,
      width: info.width,
      height: info.height,
      outputBytes: output.length,
      format,
      ...(recompressed === undefined ? {} : { recompressed }),
      encoding: describeSetting(setting),
      totalMs: performance.now() - run.start,
      cpuTimings: run.cpuTimings,
      projection,
      run: {
        tiles: result.tiles,
        cave: result.cave.mode,
        provider: sessions.provider,
        threads: sessions.threads,
        ...(band === null ? {} : { band }),
      },
    },
  };
}

/**
 * Work that needs only the source, started before the model runs and done by other threads meanwhile: a
 * JPEG's metadata carrier (sharp's threads) and the coefficients the projection needs. A re-saved source
 * is projected onto its earlier compression's cells, which only its own grid has (earlier-cells.ts).
 */
function startWhileModelRuns(
  run: RestoreRun,
  triaged: Triaged,
  heavy: HeavyModules,
  info: { readonly width: number; readonly height: number; readonly format: string },
  encodeOptions: Parameters<HeavyModules["jpegCarrier"]>[3],
) {
  const { bytes, options, format } = run;
  const carrier =
    format === "jpeg" ? heavy.jpegCarrier(bytes, info.width, info.height, encodeOptions) : undefined;
  carrier?.catch(() => undefined); // awaited by the encode; a restore that fails first never reads it
  const notProjected =
    options.projection === false
      ? "turned off"
      : info.format !== "jpeg"
        ? "not a JPEG"
        : triaged.recompressed === undefined
          ? null
          : earlierCellsSkipReason(triaged.recompressed);
  const coefficients =
    notProjected === null
      ? heavy.decodeWhileModelRuns(bytes, run.limits.maxPixels, run.timed, options.signal)
      : undefined;
  return { carrier, notProjected, coefficients };
}

/**
 * What the model is told about the compression: the source's quality and tables, or for a re-saved source
 * its earlier compression's quality, tables and grid offset (found in the stored image; the model runs on
 * the upright one).
 */
function toldCompression(
  triaged: Triaged,
  orientation: number,
): Pick<PipelineInput, "tableQuality" | "tables" | "offset"> {
  const { recompressed } = triaged;
  if (recompressed === undefined) return { tableQuality: triaged.quality, tables: triaged.tables };
  return {
    tableQuality: recompressed.quality,
    tables: earlierTables(recompressed.quality, triaged.inspection?.components ?? 3),
    offset: uprightOffset(recompressed.offset, triaged.width, triaged.height, orientation),
  };
}

/** The model: the pipeline on the decoded pixels, told the compression. */
async function modelStep(
  run: RestoreRun,
  told: ReturnType<typeof toldCompression>,
  heavy: HeavyModules,
  sessions: Awaited<ReturnType<HeavyModules["openModel"]>>,
  decoded: Awaited<ReturnType<HeavyModules["decodeImage"]>>,
) {
  const { info, rgb } = decoded;
  const result = await heavy.runPipeline(
    sessions,
    { rgb, width: info.width, height: info.height, ...told },
    { signal: run.options.signal, onProgress: run.options.onProgress },
  );
  for (const [name, ms] of Object.entries(result.timings)) run.timings[name] = (run.timings[name] ?? 0) + ms;
  for (const [name, ms] of Object.entries(result.cpuTimings))
    run.cpuTimings[name] = (run.cpuTimings[name] ?? 0) + ms;
  return result;
}
