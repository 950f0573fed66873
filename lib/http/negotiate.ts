/**
 * `format=auto`: picks the output format from the `Accept` header. The response must then carry
 * `Vary: Accept`, so a cache keeps one copy per format.
 */
import type { OutputFormat } from "../config.js";

const MIME: Readonly<Record<OutputFormat, string>> = Object.freeze({
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  avif: "image/avif",
});

/** Preference when a client accepts several equally: smallest files first; PNG only when asked. */
const AUTO_ORDER: readonly OutputFormat[] = ["avif", "webp", "jpeg"];

export function contentTypeOf(format: OutputFormat): string {
  return MIME[format];
}

/** q-value (0..1) the Accept header gives a media type; exact type beats `image/*` beats `*\/*`. */
function acceptance(accept: readonly { type: string; q: number }[], mime: string): number {
  const [major] = mime.split("/");
  const exact = accept.find((entry) => entry.type === mime);
  if (exact !== undefined) return exact.q;
  const family = accept.find((entry) => entry.type === `${major}/*`);
  if (family !== undefined) return family.q;
  return accept.find((entry) => entry.type === "*/*")?.q ?? 0;
}

export function parseAccept(header: string | undefined): { type: string; q: number }[] {
  if (header === undefined || header.trim() === "") return [];
  return header.split(",").flatMap((part) => {
    const [type, ...params] = part.split(";").map((item) => item.trim().toLowerCase());
    if (type === undefined || type === "") return [];
    const qParam = params.find((param) => param.startsWith("q="));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    return Number.isFinite(q) ? [{ type, q: Math.min(Math.max(q, 0), 1) }] : [];
  });
}

/**
 * The best format for this Accept header: the highest q-value among AVIF, WebP and JPEG, ties broken by
 * AUTO_ORDER. JPEG is the fallback for clients that accept nothing we know (every browser shows it).
 */
export function negotiateFormat(acceptHeader: string | undefined): OutputFormat {
  const accept = parseAccept(acceptHeader);
  let best: OutputFormat = "jpeg";
  let bestQ = 0;
  for (const format of AUTO_ORDER) {
    const q = acceptance(accept, MIME[format]);
    // Wildcards alone (`*/*`) do not prove a client decodes AVIF or WebP: only explicit types count for them.
    const explicit = format === "jpeg" || accept.some((entry) => entry.type === MIME[format]);
    if (explicit && q > bestQ) {
      best = format;
      bestQ = q;
    }
  }
  return best;
}
