/**
 * Shared by the upload integration tests and bench/upload.ts: the s3rver stack of s3rver-helpers.ts with a
 * handler for its events, and the real core on it.
 */
import type { Deriver } from "../../lib/storage/derive.js";
import { createDeriver, type DeriverParts } from "../../lib/storage/deriver.js";
import type { EventHandler, LocalS3 } from "../../lib/storage/local-s3.js";
import { type S3rverStack, startS3rver } from "./s3rver-helpers.js";

export {
  BUCKET,
  getBytes,
  listKeys,
  makeJpeg,
  putBytes,
  TEST_MODEL_DIR,
} from "./s3rver-helpers.js";

export interface TestStack extends S3rverStack {
  readonly local: LocalS3;
}

/** Starts s3rver (bucket `media`) in a temp folder; `handler` receives its events as real S3 events. */
export async function startTestStack(
  options: { handler?: EventHandler; concurrency?: number; env?: Record<string, string> } = {},
): Promise<TestStack> {
  const stack = await startS3rver({ tempPrefix: "unjpeg-upload-", ...options });
  return { ...stack, local: stack.local! };
}

/** The real core on the test stack: lib/restore with the test model. */
export function testDeriver(stack: TestStack, parts: DeriverParts = {}): Promise<Deriver> {
  return createDeriver(stack.config, { s3: stack.s3, ...parts });
}
