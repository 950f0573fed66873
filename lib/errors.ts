/**
 * The one error type unjpeg throws on purpose. Callers branch on `code` (stable, documented), never on
 * the message. `status` is the HTTP status a handler answers with; `publicMessage` is safe to show to a
 * client (the message may name internal keys or paths).
 */
export class UnjpegError extends Error {
  readonly code: string;
  readonly status: number;
  readonly publicMessage: string;

  constructor(
    code: string,
    message: string,
    options: { cause?: unknown; status?: number; publicMessage?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = options.status ?? 500;
    this.publicMessage = options.publicMessage ?? message;
  }

  toJSON(): { code: string; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isUnjpegError(value: unknown): value is UnjpegError {
  return value instanceof UnjpegError;
}
