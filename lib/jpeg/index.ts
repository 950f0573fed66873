/**
 * JPEG inspection without decoding: quantization tables, IJG quality, frame facts; and the quantized DCT
 * coefficients of the whole file (coefficients.ts), and from them an earlier, harder compression of a re-saved
 * file (recompression.ts). No dependencies. See inspect.ts and coefficients.ts
 * for the entry points and errors.ts for the error codes.
 */
export {
  type CoefficientComponent,
  type DecodeCoefficientsOptions,
  decodeCoefficients,
  type JpegCoefficients,
  releaseCoefficients,
} from "./coefficients.js";
export { JPEG_ERROR_CODES, JpegError, type JpegErrorCode } from "./errors.js";
export type { FrameComponent, JpegFrame, JpegHeaders, QuantTable, ReadHeadersOptions } from "./headers.js";
export { readJpegHeaders } from "./headers.js";
export { ANNEX_K_CHROMA, ANNEX_K_LUMA, type IjgClamp, ijgScaleFactor, ijgTable } from "./ijg.js";
export type {
  ByteSource,
  InspectOptions,
  InspectResult,
  JpegComponentInfo,
  JpegInspection,
  JpegTableInfo,
  NeedMoreBytes,
  SourceOptions,
} from "./inspect.js";
export { inspectJpeg, inspectJpegSource, subsamplingOf } from "./inspect.js";
export type { JpegProcess } from "./markers.js";
export { estimateIjgQuality, type QualityEstimate, type RoledTable, type TableRole } from "./quality.js";
export { detectRecompression, type Recompression } from "./recompression.js";
export { checkScanLength, codedBlocks, minHuffmanBitsPerBlock, minimumScanBytes } from "./scan-length.js";
