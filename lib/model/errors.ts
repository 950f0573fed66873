import { UnjpegError } from "../errors.js";

/**
 * A model folder that cannot be used. Codes:
 * - `MODEL_NOT_FOUND`: the folder or its `model.json` does not exist.
 * - `MODEL_MANIFEST_INVALID`: `model.json` is not JSON or breaks the contract; `field` names the bad field.
 * - `MODEL_CHECKSUM_MISMATCH`: a stage file's SHA-256 differs from the manifest (`field` = `sha256.<file>`).
 * - `MODEL_LOAD_FAILED`: onnxruntime refused a graph.
 * - `MODEL_RUN_FAILED`: a stage failed while running, or returned a tensor of the wrong shape.
 */
export type ModelErrorCode =
  | "MODEL_NOT_FOUND"
  | "MODEL_MANIFEST_INVALID"
  | "MODEL_CHECKSUM_MISMATCH"
  | "MODEL_LOAD_FAILED"
  | "MODEL_RUN_FAILED";

export class ModelError extends UnjpegError {
  declare readonly code: ModelErrorCode;
  /** The manifest field at fault (dotted path), when one is. */
  readonly field: string | undefined;

  constructor(code: ModelErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    // A broken model is the operator's problem: 500, and the public message does not name paths.
    super(code, message, {
      cause: options.cause,
      status: 500,
      publicMessage: "the restoration model is unavailable",
    });
    this.field = options.field;
  }
}

/** The caller's AbortSignal fired between two pipeline steps. */
export class RestoreAbortedError extends UnjpegError {
  constructor(step: string, cause: unknown) {
    super("RESTORE_ABORTED", `restore aborted before step "${step}"`, { cause, status: 503 });
  }
}
