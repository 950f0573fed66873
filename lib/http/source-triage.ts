/**
 * The storage core's triage of a source from its headers alone (ranged GETs of its first bytes, the same
 * `decide` the restore runs), so the origin knows whether a restore would run and on how many pixels
 * before it starts one.
 */
import type { OutputFormat } from "../config.js";
import { restoreOptionsFromConfig } from "../restore/options.js";
import type { TriageDecision } from "../restore/types.js";
import { type Deriver, triageHeaders } from "../storage/derive.js";
import type { ObjectHead } from "./types.js";

/** Headers needing more than this (huge EXIF or ICC segments) are not worth it here: no answer. */
const MAX_HEADER_BYTES = 1024 * 1024;

/** null: no answer from the headers (gone, changed, or headers too long); the restore then decides. */
export type SourceTriage = (source: ObjectHead, format: OutputFormat) => Promise<TriageDecision | null>;

export function createSourceTriage(deriver: Deriver, bucket: string): SourceTriage {
  return async (source, format) => {
    const object = { eTag: source.etag === "" ? undefined : source.etag, size: Math.max(source.size, 0) };
    // Without the re-saved check: a high-quality skip here only means no estimate, and the restore's own
    // triage (deriveObject) does the check; here it would read the scan a second time.
    const options = { ...restoreOptionsFromConfig(deriver.config, format), detectResaved: false };
    return (await triageHeaders(deriver, bucket, source.key, object, options, MAX_HEADER_BYTES)).decision;
  };
}
