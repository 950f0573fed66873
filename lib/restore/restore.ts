/**
 * `restore(bytes, options)`: the one call the CLI and every handler share. Bytes in; out comes either the
 * restored image with a description, or a skip with its reason. Nothing is written anywhere: callers
 * store the output only when this resolves, so a failed or aborted restore leaves no partial output.
 */
import { giveBack } from "../image/buffer-pool.js";
import { describeSetting, type EncoderSetting } from "../image/encoder-setting.js";
import { ImageError } from "../image/errors.js";
import { checkFormatHolds } from "../image/format-limits.js";
import { uprightOffset } from "../image/offset.js";
import { checkScanLength } from "../jpeg/index.js";
import { shippedModelDir } from "../model/default-model.js";
import { DEFAULT_MODEL_CONCURRENCY, modelRunQueue } from "../model/run-queue.js";
import { stepper } from "../model/step.js";
import { TRIAGE_DEFAULTS, triage } from "./decide.js";
import { earlierCellsSkipReason } from "./earlier-cells.js";
import { earlierTables } from "./resaved.js";
import type {
  ProjectionDescription,
  RestoreDescription,
  RestoreOptions,
  RestoreOutcome,
  SkipReason,
} from "./types.js";

/**
 * sharp and onnxruntime load on the first image that needs them: skips (and `import "unjpeg"`) stay light.
 * Loaded once: a dynamic import() of a loaded module still costs a round trip through any module loader
 * hooks (tsx: 2–10 ms a restore); a failed load is tried again next time.
 */
let heavyModules: Promise<HeavyModules> | undefined;

type HeavyModules = typeof import("../image/decode.js") &
  typeof import("../image/encode.js") &
  typeof import("./encode-step.js") &
  typeof import("../model/pipeline.js") &
  typeof import("../model/sessions.js") &
  typeof import("./projection-step.js");

function loadHeavyModules(): Promise<HeavyModules> {
  heavyModules ??= Promise.all([
    import("../image/decode.js"),
    import("../image/encode.js"),
    import("./encode-step.js"),
    import("../model/pipeline.js"),
    import("../model/sessions.js"),
    import("./projection-step.js"),
  ]).then(
    ([decode, encode, choose, pipeline, sessions, projection]) => ({
      ...decode,
      ...encode,
      ...choose,
      ...pipeline,
      ...sessions,
      ...projection,
    }),
    (error: unknown) => {
      heavyModules = undefined;
      throw error;
    },
  );
  return heavyModules;
}

export async function restore(bytes: Uint8Array, options: RestoreOptions = {}): Promise<RestoreOutcome> {
  const start = performance.now();
  const timings: Record<string, number> = {};
  const cpuTimings: Record<string, number> = {};
  const timed = stepper(timings, cpuTimings, options.signal);
  const limits = {
    maxPixels: options.maxPixels ?? TRIAGE_DEFAULTS.maxPixels,
    maxBytes: options.maxBytes ?? TRIAGE_DEFAULTS.maxBytes,
  };

  const { decision, match, tables, inspection } = await timed("inspect", () =>
    triage(bytes, {
      ...limits,
      force: options.force,
      skipQuality: options.skipQuality,
      totalBytes: bytes.length,
      detectResaved: options.detectResaved,
      recompressed: options.recompressed,
    }),
  );
  // A re-saved source is restored as a file of its earlier compression: that one's quality and (IJG)
  // tables condition the model, and its grid is the model's (lib/restore/resaved.ts).
  const recompressed = decision.action === "restore" ? decision.recompressed : undefined;
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
    timings,
  } satisfies Omit<RestoreDescription, "totalMs">;
  const skipped = (
    reason: SkipReason,
    message: string,
    extra: Partial<RestoreDescription> = {},
  ): RestoreOutcome => ({
    action: "skipped",
    reason,
    message,
    description: { ...base, ...extra, totalMs: performance.now() - start },
  });
  if (decision.action === "skip") return skipped(decision.reason, decision.message);
  if (decision.action === "need-more-bytes") {
    // With the whole file in hand this means headers cut short.
    return skipped("unsupported", "the JPEG ends inside its headers");
  }

  // Scans far shorter than the frame they claim would decode padded: refused from the headers (JpegError).
  if (inspection !== null) checkScanLength(inspection, bytes.length);
  const format = options.format ?? "jpeg";
  // An output format too small for the image fails here, not at encode time after the model ran.
  checkFormatHolds(format, decision.width, decision.height);

  const heavy = await loadHeavyModules();
  const { decodeImage, CONTENT_TYPES, encodeRestored, jpegCarrier, runPipeline, openModel } = heavy;
  // Decode, model, encode: what holds an image in memory and runs the model.
  const restoreInTurn = async (): Promise<RestoreOutcome> => {
    // Decoded before the model is opened: a file the decoder refuses costs no model load.
    let decoded: Awaited<ReturnType<typeof decodeImage>>;
    try {
      decoded = await timed("decode", () => decodeImage(bytes, limits));
    } catch (error) {
      if (error instanceof ImageError && error.code === "IMAGE_UNSUPPORTED")
        return skipped("unsupported", error.message);
      if (error instanceof ImageError && error.code === "IMAGE_TOO_LARGE")
        return skipped("too-large", error.message);
      throw error;
    }
    const sessions = await timed("load", () =>
      openModel(options.modelDir ?? shippedModelDir(), {
        provider: options.executionProvider,
        threads: options.threads,
        inWorker: options.modelInWorker,
      }),
    );
    const { info, rgb } = decoded;
    const encodeOptions = { format, grey: info.grey, modelTag: sessions.model.tag } as const;
    // Forced (known now: the projection leaves room for its quantization) or "auto" (chosen after it).
    const planned = heavy.plannedSetting(format, options.quality);
    // A JPEG's metadata carrier needs only the source: written by sharp's threads while the model runs.
    const carrier =
      format === "jpeg" ? jpegCarrier(bytes, info.width, info.height, encodeOptions) : undefined;
    carrier?.catch(() => undefined); // awaited by the encode; a restore that fails first never reads it
    // The coefficients need only the source too: decoded here while the model runs. A re-saved source is
    // projected onto its earlier compression's cells, which only its own grid has (earlier-cells.ts).
    const notProjected =
      options.projection === false
        ? "turned off"
        : info.format !== "jpeg"
          ? "not a JPEG"
          : recompressed === undefined
            ? null
            : earlierCellsSkipReason(recompressed);
    const coefficients =
      notProjected === null
        ? heavy.decodeWhileModelRuns(bytes, limits.maxPixels, timed, options.signal)
        : undefined;

    const result = await runPipeline(
      sessions,
      recompressed === undefined
        ? { rgb, width: info.width, height: info.height, tableQuality: decision.quality, tables }
        : {
            rgb,
            width: info.width,
            height: info.height,
            tableQuality: recompressed.quality,
            tables: earlierTables(recompressed.quality, inspection?.components ?? 3),
            // Found in the stored image; the model runs on the upright one.
            offset: uprightOffset(recompressed.offset, decision.width, decision.height, info.orientation),
          },
      { signal: options.signal, onProgress: options.onProgress },
    );
    for (const [name, ms] of Object.entries(result.timings)) timings[name] = (timings[name] ?? 0) + ms;
    for (const [name, ms] of Object.entries(result.cpuTimings))
      cpuTimings[name] = (cpuTimings[name] ?? 0) + ms;

    let output: Uint8Array;
    let setting: EncoderSetting;
    let projection: ProjectionDescription;
    try {
      projection =
        coefficients === undefined
          ? { applied: false, reason: notProjected! }
          : await heavy.projectRestored(
              result.rgb,
              info,
              coefficients,
              timed,
              heavy.outputMargins(planned),
              recompressed,
            );
      // After the projection: `quality: "auto"` is chosen on the pixels that are encoded (encode-step.ts).
      setting = await heavy.settingToWrite(
        planned,
        format,
        { restored: result.rgb, decoded: rgb },
        info,
        { keepGain: options.keepGain, errorTransfer: sessions.model.manifest.encodeErrorTransfer },
        timed,
      );
      output = await timed("encode", () =>
        encodeRestored(bytes, result.rgb, info.width, info.height, { ...encodeOptions, setting }, carrier),
      );
    } finally {
      giveBack(result.rgb.buffer); // the next restore blends into it (fresh memory is slow to touch)
    }
    return {
      action: "restored",
      output,
      contentType: CONTENT_TYPES[format],
      format,
      description: {
        ...base,
        predictedQuality:
          result.predictedQuality === null ? null : Math.round(result.predictedQuality * 10) / 10,
        model: sessions.model.tag,
        width: info.width,
        height: info.height,
        outputBytes: output.length,
        format,
        ...(recompressed === undefined ? {} : { recompressed }),
        encoding: describeSetting(setting),
        totalMs: performance.now() - start,
        cpuTimings,
        projection,
        run: {
          tiles: result.tiles,
          cave: result.cave.mode,
          provider: sessions.provider,
          threads: sessions.threads,
        },
      },
    };
  };

  // From here the image is decoded and the model runs: one turn of the process's run queue
  // (lib/model/run-queue.ts), so that invocations in flight together share the sessions at bounded memory.
  const endTurn = await timed("queue", () =>
    modelRunQueue.enter(options.modelConcurrency ?? DEFAULT_MODEL_CONCURRENCY, options.signal),
  );
  try {
    return await restoreInTurn();
  } finally {
    endTurn();
  }
}
