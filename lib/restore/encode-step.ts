/**
 * The derivative's encoder setting as restore() decides it. A forced quality (`quality: N`) and PNG are
 * known before the model runs, so the projection can leave room in each cell for their quantization
 * (projection-step.ts outputMargins). `quality: "auto"` (the default) is chosen after the projection, on
 * the very pixels that are encoded, against the decoded source (lib/image/choose-encoding.ts): a search
 * timed as the step `search`.
 */
import type { OutputFormat } from "../config.js";
import { chooseEncoding } from "../image/choose-encoding.js";
import { DEFAULT_KEEP_GAIN, type EncoderSetting, fixedSetting } from "../image/encoder-setting.js";
import type { Stepper } from "./stepper.js";

/** A setting fixed before the restore, or `"auto"`: chosen after the projection. */
export type PlannedSetting = EncoderSetting | "auto";

/** What a restore's options ask for: a lossy format without a forced quality is chosen per image. */
export function plannedSetting(format: OutputFormat, quality: number | "auto" | undefined): PlannedSetting {
  if (format !== "png" && (quality === undefined || quality === "auto")) return "auto";
  return fixedSetting(format, quality === "auto" ? undefined : quality);
}

/** The setting to write: the planned one, or the one the search chooses for these pixels. */
export async function settingToWrite(
  planned: PlannedSetting,
  format: OutputFormat,
  pixels: { readonly restored: Uint8Array; readonly decoded: Uint8Array },
  image: { readonly width: number; readonly height: number; readonly grey: boolean },
  rule: { readonly keepGain?: number; readonly errorTransfer: number; readonly trellis?: boolean },
  step: Stepper,
): Promise<EncoderSetting> {
  if (planned !== "auto") return planned;
  if (format === "png") return fixedSetting(format);
  const choice = await step("search", () =>
    chooseEncoding(pixels.restored, pixels.decoded, image.width, image.height, {
      format,
      keepGain: rule.keepGain ?? DEFAULT_KEEP_GAIN,
      errorTransfer: rule.errorTransfer,
      grey: image.grey,
      trellis: rule.trellis === true,
    }),
  );
  return choice.setting;
}
