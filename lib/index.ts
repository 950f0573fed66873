/** The library entry point: `import { inspectJpeg } from "unjpeg"`. */

export type {
  BatchInvocation,
  BatchResponse,
  BatchResultCode,
  BatchTaskResult,
} from "./backfill/batch.js";
export { batchResponse, parseBatchInvocation, resultOfError, resultOfOutcome } from "./backfill/batch.js";
export type { Journal, JournalEntry } from "./backfill/journal.js";
export { memoryJournal, openJournal } from "./backfill/journal.js";
export { manifestSource, parseS3Url } from "./backfill/listing.js";
export type { ListedObject } from "./backfill/manifest.js";
export type { BackfillReport, BackfillRun, ProcessObject, ProcessResult } from "./backfill/run.js";
export { runBackfill } from "./backfill/run.js";
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
  Recompression,
  SourceOptions,
} from "./jpeg/index.js";
export { inspectJpeg, inspectJpegSource, JPEG_ERROR_CODES, JpegError } from "./jpeg/index.js";
export type { ModelErrorCode } from "./model/errors.js";
export { ModelError, RestoreAbortedError } from "./model/errors.js";
export type { Manifest, ModelFolder } from "./model/manifest.js";
export { loadModelFolder } from "./model/manifest.js";
export { enqueueObjects, objectCreatedMessage } from "./queue/enqueue.js";
export { handleMessageBody } from "./queue/handle.js";
export type { MessageHandler, WorkerMessage, WorkerOptions, WorkerStats } from "./queue/worker.js";
export { runWorker } from "./queue/worker.js";
export type { TriageOptions } from "./restore/decide.js";
export { decide } from "./restore/decide.js";
export { restore } from "./restore/restore.js";
export type * from "./restore/types.js";
export type {
  DecideFunction,
  DeriveOutcome,
  DeriveRequest,
  Deriver,
  DeriveSkipReason,
  RemoveOutcome,
  RestoreFunction,
} from "./storage/derive.js";
export { deriveObject, removeDerivatives } from "./storage/derive.js";
export type { DeriverParts } from "./storage/deriver.js";
export { createDeriver } from "./storage/deriver.js";
export type { EventUnit, Invocation, ObjectEvent } from "./storage/events.js";
export { classifyInvocation, EventFormatError, objectEventsFromMessage } from "./storage/events.js";
export type { DerivativeNaming } from "./storage/keys.js";
export { decodeEventKey, derivativeKey, encodeEventKey, isDerivativeKey } from "./storage/keys.js";
export { listObjects } from "./storage/listing.js";
export type { DerivativeMetadata } from "./storage/metadata.js";
export { buildDerivativeMetadata, isCurrent, parseDerivativeMetadata } from "./storage/metadata.js";
export type { ClassifiedFailure, RetryOptions } from "./storage/retry.js";
export { classifyFailure, withRetry } from "./storage/retry.js";
export type { MultipartOptions, ObjectHead, S3ClientOptions } from "./storage/s3.js";
export { createS3Client, ObjectTooLargeError, SourceChangedError, StorageError } from "./storage/s3.js";
export type { UploadOptions, UploadResult } from "./storage/upload.js";
export { handleUploadEvent } from "./storage/upload.js";
export type { WriteCondition } from "./storage/write.js";
export { WriteRaceLostError, writeCondition } from "./storage/write.js";
