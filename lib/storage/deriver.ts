/**
 * Builds the core's dependencies once per process: configuration, S3 client, the restore functions and
 * the model's `<id>@<version>`. The upload handler, the local stack and the other entry points share it.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { type Config, loadConfig } from "../config.js";
import type { DecideFunction, Deriver, RestoreFunction } from "./derive.js";
import type { KeyLimits } from "./keys.js";
import { createS3Client, type MultipartOptions, type S3ClientOptions } from "./s3.js";

export interface DeriverParts {
  readonly s3?: S3Client;
  /** For a client built here (the local stack's credentials). */
  readonly s3Options?: S3ClientOptions;
  /** Default: lib/restore's. */
  readonly restore?: RestoreFunction;
  readonly decide?: DecideFunction;
  /** Default: the `<id>@<version>` of the configured (or shipped) model folder. */
  readonly model?: string;
  readonly headerBytes?: number;
  /** When derivatives go up in parts (tests lower the threshold). */
  readonly multipart?: MultipartOptions;
  /** What the store takes beyond S3's own key limit (the local stack's s3rver). */
  readonly keyLimits?: KeyLimits;
}

export async function createDeriver(config: Config, parts: DeriverParts = {}): Promise<Deriver> {
  return {
    s3: parts.s3 ?? createS3Client(config, parts.s3Options),
    config,
    restore: parts.restore ?? (await import("../restore/restore.js")).restore,
    decide: parts.decide ?? (await import("../restore/decide.js")).decide,
    model: parts.model ?? (await modelTag(config.modelDir)),
    headerBytes: parts.headerBytes,
    ...(parts.multipart === undefined ? {} : { multipart: parts.multipart }),
    ...(parts.keyLimits === undefined ? {} : { keyLimits: parts.keyLimits }),
  };
}

/** `<id>@<version>` of a model folder (validated, checksums verified once per process). */
async function modelTag(modelDir: string | undefined): Promise<string> {
  const [{ loadModelFolder }, { shippedModelDir }] = await Promise.all([
    import("../model/model-folder.js"),
    import("../model/default-model.js"),
  ]);
  return (await loadModelFolder(modelDir ?? shippedModelDir())).tag;
}

/** For Lambda: everything from the environment, validated once (every problem in one message). */
export async function deriverFromEnvironment(): Promise<Deriver> {
  return createDeriver(loadConfig());
}
