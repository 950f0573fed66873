/** The library entry point: `import { inspectJpeg } from "unjpeg"`. */

export type { Config, OutputFormat } from "./config.js";
export { ConfigError, loadConfig, OUTPUT_FORMATS } from "./config.js";
export { isUnjpegError, UnjpegError } from "./errors.js";
export type * from "./restore/types.js";
