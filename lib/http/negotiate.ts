/**
 * `format=auto`: picks the output format from the `Accept` header. The response must then carry
 * `Vary: Accept`, so a cache keeps one copy per format.
 */
import type { OutputFormat } from "../config.js";
import { CONTENT_TYPES } from "../image/formats.js";

/** Preference when a client accepts several equally: smallest files first; PNG only when asked. */
const AUTO_ORDER: readonly OutputFormat[] = ["avif", "webp", "jpeg"];

export function contentTypeOf(format: OutputFormat): string {
  return CONTENT_TYPES[format];
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
 * The formats this Accept header takes, best first: AVIF and WebP when named explicitly with a q-value
 * above 0, by q-value, ties broken by AUTO_ORDER; JPEG always (every browser shows it), last when the
 * header does not take it. `format=auto` serves the first that can hold the image.
 */
export function acceptableFormats(acceptHeader: string | undefined): OutputFormat[] {
  const accept = parseAccept(acceptHeader);
  return AUTO_ORDER.map((format, order) => ({ format, order, q: acceptance(accept, CONTENT_TYPES[format]) }))
    .filter(({ format, q }) => {
      // Wildcards alone (`*/*`) do not prove a client decodes AVIF or WebP: only explicit types count for them.
      return format === "jpeg" || (q > 0 && accept.some((entry) => entry.type === CONTENT_TYPES[format]));
    })
    .sort((a, b) => b.q - a.q || a.order - b.order)
    .map(({ format }) => format);
}

/** The best format for this Accept header: the first of {@link acceptableFormats}. */
export function negotiateFormat(acceptHeader: string | undefined): OutputFormat {
  return acceptableFormats(acceptHeader)[0] ?? "jpeg";
}
