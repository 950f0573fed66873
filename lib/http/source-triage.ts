/**
 * The storage core's triage of a source from its headers alone (ranged GETs of its first bytes, the same
 * `decide` the restore runs), so the origin knows whether a restore would run and on how many pixels
 * before it starts one; the restore then takes the same triage over instead of reading the headers again.
 * The re-saved check (one more ranged GET of a high-quality source's scan) is part of it, made here once:
 * the core takes the finding over with the decision.
 */
import type { OutputFormat } from "../config.js";
import { restoreOptionsFromConfig } from "../restore/options.js";
import { RESAVED_SCAN_BYTES } from "../restore/resaved.js";
import type { Deriver, HeaderTriage } from "../storage/derive.js";
import type { ObjectHead } from "../storage/s3.js";
import { SourceChangedError } from "../storage/s3.js";
import { sourceReader, triageSource } from "../storage/source-read.js";

/**
 * Headers needing more than 1 MiB (huge EXIF or ICC segments) are not worth it here: no answer. A
 * high-quality source's re-saved check reads up to RESAVED_SCAN_BYTES of its scan on top.
 */
const MAX_TRIAGE_BYTES = 1024 * 1024 + RESAVED_SCAN_BYTES;

/** null: no answer from the headers (gone, changed, too large, or headers too long); the restore then decides. */
export type SourceTriage = (source: ObjectHead, format: OutputFormat) => Promise<HeaderTriage | null>;

export function createSourceTriage(deriver: Deriver, bucket: string): SourceTriage {
  return async (source, format) => {
    if (source.size === 0 || source.size > deriver.config.maxBytes) return null;
    const options = restoreOptionsFromConfig(deriver.config, format);
    const version = { bucket, key: source.key, eTag: source.eTag, size: source.size };
    try {
      const read = { firstBytes: deriver.headerBytes, maxBytes: MAX_TRIAGE_BYTES, eTag: source.eTag };
      return (await triageSource(sourceReader(deriver.s3, version), deriver.decide, options, read)) ?? null;
    } catch (error) {
      if (error instanceof SourceChangedError) return null;
      throw error;
    }
  };
}
