/**
 * The derivative write protocol (docs/CONTRACTS.md): every derivative PUT is conditional on what the writer
 * saw just before it, so two writers racing on one object (two Lambdas, a Lambda and the CDN origin) cannot
 * both store theirs. A first derivative is written with `If-None-Match: *`; a stale one is replaced with
 * `If-Match: "<its ETag>"`. S3 answers 412 PreconditionFailed to the loser, who then skips (`raced`): the
 * winner's derivative stands. Pure logic here; the requests are made by `putObject` in s3.ts.
 */
import { UnjpegError } from "../errors.js";

/** The precondition of one write, as S3 request headers take it. */
export type WriteCondition =
  | { readonly ifNoneMatch: "*" } // the key must not exist
  | { readonly ifMatch: string }; // the key must still hold this exact object (quoted ETag)

/**
 * The condition for writing a derivative, from the HEAD of its key just before the write: none there →
 * only if still none; an object there (a stale derivative of ours) → only if it is still that object.
 * An object without an ETag cannot be pinned (no S3 answers so): undefined, an unconditional write.
 */
export function writeCondition(
  existing: { readonly eTag: string | undefined } | null,
): WriteCondition | undefined {
  if (existing === null) return { ifNoneMatch: "*" };
  if (existing.eTag === undefined || existing.eTag === "") return undefined;
  return { ifMatch: `"${existing.eTag.replace(/^"(.*)"$/, "$1")}"` };
}

/** What a failed conditional write means. */
export type WriteFailure =
  | "lost-race" // another writer changed the key first: theirs stands, ours is dropped
  | "conflict" // S3 saw a concurrent conditional write in flight (409): retry the whole decision
  | "error"; // nothing to do with the condition

interface SdkErrorLike {
  readonly name?: string;
  readonly Code?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/**
 * Classifies the error of a write made under `condition`. 412 is the loser's answer. With `If-Match`, a
 * 404 also is: the stale derivative was deleted meanwhile (its source removed), so nothing may be written.
 * 409 ConditionalRequestConflict is S3's "another conditional write is in flight": a retry decides.
 */
export function classifyWriteFailure(error: unknown, condition: WriteCondition | undefined): WriteFailure {
  if (condition === undefined) return "error";
  const e = (error ?? {}) as SdkErrorLike;
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? e.Code;
  if (status === 412 || name === "PreconditionFailed") return "lost-race";
  if ("ifMatch" in condition && (status === 404 || name === "NoSuchKey" || name === "NotFound")) {
    return "lost-race";
  }
  if (status === 409 && name === "ConditionalRequestConflict") return "conflict";
  return "error";
}

/** Another writer won the race for this key: not a failure of the run, a skip (logged as `raced`). */
export class WriteRaceLostError extends UnjpegError {
  readonly bucket: string;
  readonly key: string;
  constructor(bucket: string, key: string, condition: WriteCondition, cause: unknown) {
    const header = "ifNoneMatch" in condition ? "If-None-Match: *" : `If-Match: ${condition.ifMatch}`;
    super("WRITE_RACE_LOST", `s3://${bucket}/${key} was written by another writer first (${header} failed)`, {
      cause,
      status: 412,
    });
    this.bucket = bucket;
    this.key = key;
  }
}
