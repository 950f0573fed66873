/** The library entry point: `import { inspectJpeg } from "unjpeg"`. */

export type { Config, OutputFormat } from "./config.js";
export { ConfigError, loadConfig, OUTPUT_FORMATS } from "./config.js";
export { isUnjpegError, UnjpegError } from "./errors.js";
export type { Origin, OriginOptions } from "./http/origin.js";
export { createOrigin } from "./http/origin.js";
export type { SignOptions } from "./http/signing.js";
export { signUrl, verifySignature } from "./http/signing.js";
export type { OriginRequest, OriginResponse, OriginStore } from "./http/types.js";
export type { ImageErrorCode } from "./image/errors.js";
export { ImageError } from "./image/errors.js";
export type {
  ByteSource,
  InspectOptions,
  InspectResult,
  JpegComponentInfo,
  JpegErrorCode,
  JpegInspection,
  JpegProcess,
  JpegTableInfo,
  NeedMoreBytes,
  SourceOptions,
} from "./jpeg/index.js";
export { inspectJpeg, inspectJpegSource, JPEG_ERROR_CODES, JpegError } from "./jpeg/index.js";
export type { ModelErrorCode } from "./model/errors.js";
export { ModelError, RestoreAbortedError } from "./model/errors.js";
export type { Manifest, ModelFolder } from "./model/manifest.js";
export { loadModelFolder } from "./model/manifest.js";
export type { TriageOptions } from "./restore/decide.js";
export { decide } from "./restore/decide.js";
export { restore } from "./restore/restore.js";
export type * from "./restore/types.js";
