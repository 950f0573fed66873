/**
 * Shared by the upload integration tests and bench/upload.ts: a real s3rver on a free loopback port with
 * its data in a temp folder, a client for it, and JPEGs of a chosen quality made with sharp.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { type Config, loadConfig } from "../../lib/config.js";
import type { Deriver } from "../../lib/storage/derive.js";
import { createDeriver, type DeriverParts } from "../../lib/storage/deriver.js";
import {
  type EventHandler,
  LOCAL_CREDENTIALS,
  type LocalS3,
  startLocalS3,
} from "../../lib/storage/local-s3.js";
import { createS3Client } from "../../lib/storage/s3.js";

export const BUCKET = "media";
/** The small random-weight model committed for tests (same layout as the shipped one). */
export const TEST_MODEL_DIR = fileURLToPath(new URL("../fixtures/model-random/", import.meta.url));

export interface TestStack {
  readonly s3: S3Client;
  readonly local: LocalS3;
  readonly config: Config;
  close(): Promise<void>;
}

/** Starts s3rver (bucket `media`) in a temp folder; `handler` receives its events as real S3 events. */
export async function startTestStack(
  options: { handler?: EventHandler; concurrency?: number; env?: Record<string, string> } = {},
): Promise<TestStack> {
  const directory = await mkdtemp(join(tmpdir(), "unjpeg-upload-"));
  const local = await startLocalS3({
    port: 0,
    directory,
    handler: options.handler,
    concurrency: options.concurrency,
    onHandlerError: (error) => {
      throw error;
    },
  });
  const config = loadConfig({
    UNJPEG_S3_ENDPOINT: local.endpoint,
    UNJPEG_S3_FORCE_PATH_STYLE: "true",
    UNJPEG_MODEL_DIR: TEST_MODEL_DIR,
    ...options.env,
  });
  const s3 = createS3Client(config, { credentials: LOCAL_CREDENTIALS });
  return {
    s3,
    local,
    config,
    async close() {
      await local.close();
      s3.destroy();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** A photo-like test image (smooth gradients plus texture) as a baseline JPEG of the given IJG quality. */
export async function makeJpeg(quality: number, width = 96, height = 64, seed = 1): Promise<Uint8Array> {
  const pixels = Buffer.alloc(width * height * 3);
  let state = seed >>> 0 || 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      state = (state * 1664525 + 1013904223) >>> 0;
      const noise = (state >>> 24) / 8;
      const i = (y * width + x) * 3;
      pixels[i] = Math.min(255, (x * 255) / width + noise);
      pixels[i + 1] = Math.min(255, (y * 255) / height + noise);
      pixels[i + 2] = Math.min(255, 128 + 60 * Math.sin((x + y + seed) / 7) + noise);
    }
  }
  const jpeg = await sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality, mozjpeg: false, chromaSubsampling: "4:2:0" })
    .toBuffer();
  return new Uint8Array(jpeg);
}

export async function putBytes(s3: S3Client, key: string, body: Uint8Array, contentType = "image/jpeg") {
  return s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: contentType }));
}

export async function getBytes(s3: S3Client, key: string): Promise<Uint8Array> {
  const response = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return response.Body!.transformToByteArray();
}

export async function listKeys(s3: S3Client): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: token }));
    for (const object of page.Contents ?? []) keys.push(object.Key!);
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return keys.sort();
}

/** The real core on the test stack: lib/restore with the test model. */
export function testDeriver(stack: TestStack, parts: DeriverParts = {}): Promise<Deriver> {
  return createDeriver(stack.config, { s3: stack.s3, ...parts });
}
