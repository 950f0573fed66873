/**
 * The one local S3 for tests and benches (upload-helpers.ts, cdn-stack.ts and through them the rest): a
 * real s3rver (bucket `media`) on a free loopback port with its data in a temp folder, the configuration
 * and client for it, small object helpers, and photo-like JPEGs of a chosen quality made with sharp.
 */
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { type Config, loadConfig } from "../../lib/config.js";
import { listObjects } from "../../lib/storage/listing.js";
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

export interface S3rverStack {
  readonly s3: S3Client;
  /** The s3rver started here; undefined when an endpoint was given. */
  readonly local: LocalS3 | undefined;
  readonly config: Config;
  /** putBytes, getBytes and listKeys on this stack's client. */
  put(key: string, body: Uint8Array, contentType?: string): Promise<unknown>;
  get(key: string): Promise<Uint8Array>;
  keys(prefix?: string): Promise<string[]>;
  /** Stops s3rver, the client, and removes the temp folder. */
  close(): Promise<void>;
}

/**
 * Starts s3rver (bucket `media`) in a temp folder named after `tempPrefix`; `handler` receives its events
 * as real S3 events and a handler that throws fails the test. `env` goes on top of the stack's own settings.
 * With `s3Endpoint`, no s3rver starts: the configuration points there.
 */
export async function startS3rver(
  options: {
    tempPrefix?: string;
    handler?: EventHandler;
    concurrency?: number;
    env?: Record<string, string>;
    s3Endpoint?: string;
  } = {},
): Promise<S3rverStack> {
  const directory = await mkdtemp(join(tmpdir(), options.tempPrefix ?? "unjpeg-s3rver-"));
  const local =
    options.s3Endpoint === undefined
      ? await startLocalS3({
          port: 0,
          directory,
          buckets: [BUCKET],
          handler: options.handler,
          concurrency: options.concurrency,
          onHandlerError: (error) => {
            throw error;
          },
        })
      : undefined;
  const config = loadConfig({
    UNJPEG_S3_ENDPOINT: local?.endpoint ?? options.s3Endpoint,
    UNJPEG_S3_FORCE_PATH_STYLE: "true",
    UNJPEG_MODEL_DIR: TEST_MODEL_DIR,
    ...options.env,
  });
  const s3 = createS3Client(config, { credentials: LOCAL_CREDENTIALS });
  return {
    s3,
    local,
    config,
    put: (key, body, contentType) => putBytes(s3, key, body, contentType),
    get: (key) => getBytes(s3, key),
    keys: (prefix) => listKeys(s3, prefix),
    async close() {
      await local?.close();
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

/**
 * Every key under `prefix`, sorted. Through the project's one lister (V1 markers): s3rver's V2
 * continuation tokens fail under OpenSSL 3, so a V2 listing breaks past 1,000 keys.
 */
export async function listKeys(s3: S3Client, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of listObjects(s3, { bucket: BUCKET, prefix })) keys.push(object.key);
  return keys.sort();
}

/** A port free on loopback right now (for a stack that is given its ports, like `unjpeg dev`). */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}
