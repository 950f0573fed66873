/** The restore options a deployment's configuration fixes, in one place for every caller that has a Config. */
import type { Config, OutputFormat } from "../config.js";
import type { RestoreOptions } from "./types.js";

export function restoreOptionsFromConfig(config: Config, format: OutputFormat = config.format) {
  return {
    format,
    skipQuality: config.skipQuality,
    maxPixels: config.maxPixels,
    maxBytes: config.maxBytes,
    keepGain: config.keepGain,
    trellis: config.trellis,
    modelDir: config.modelDir,
    threads: config.threads,
    executionProvider: config.executionProvider,
    modelConcurrency: config.modelConcurrency,
    detectResaved: config.detectResaved,
    projection: config.projection,
  } satisfies RestoreOptions;
}
