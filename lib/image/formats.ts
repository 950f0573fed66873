/**
 * What each output format is called: its media type and its file extension, the one table the encoder,
 * the CDN origin's negotiation and derivative key naming read. What each format can hold is
 * format-limits.ts.
 */
import type { OutputFormat } from "../config.js";

export const CONTENT_TYPES: Readonly<Record<OutputFormat, string>> = Object.freeze({
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  avif: "image/avif",
});

/** The extension a file or derivative of each format gets (a JPEG source's own JPEG extension is kept). */
export const EXTENSIONS: Readonly<Record<OutputFormat, string>> = Object.freeze({
  jpeg: "jpg",
  png: "png",
  webp: "webp",
  avif: "avif",
});
