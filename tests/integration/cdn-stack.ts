/**
 * The CDN origin on a real stack, shared by tests/integration/cdn-*.test.ts, tests/e2e/page-*.test.ts and
 * bench/cdn.ts: an s3rver (bucket `media`) in a temp folder, the real storage core and lib/restore with the
 * small committed test model, the origin behind the local HTTP adapter on a free port.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { type Config, loadConfig } from "../../lib/config.js";
import { createOriginApp, type OriginApp } from "../../lib/http/app.js";
import { type LocalServer, startLocalServer } from "../../lib/http/local-server.js";
import { streamingPayloadHandler } from "../../lib/http/payload.js";
import { loadModelFolder } from "../../lib/model/manifest.js";
import { decide } from "../../lib/restore/decide.js";
import { restore } from "../../lib/restore/restore.js";
import type { RestoreOptions } from "../../lib/restore/types.js";
import type { Deriver } from "../../lib/storage/derive.js";
import { LOCAL_CREDENTIALS, type LocalS3, startLocalS3 } from "../../lib/storage/local-s3.js";
import { createS3Client } from "../../lib/storage/s3.js";

export const BUCKET = "media";
export const TEST_MODEL_DIR = fileURLToPath(new URL("../fixtures/model-random/", import.meta.url));

export interface CdnStack {
  readonly url: string;
  readonly s3: S3Client;
  readonly config: Config;
  readonly app: OriginApp;
  readonly deriver: Deriver;
  /** Model runs so far (restore calls that were not skips). */
  restores(): number;
  put(key: string, body: Uint8Array, contentType?: string): Promise<void>;
  close(): Promise<void>;
}

export async function startCdnStack(
  options: {
    env?: Record<string, string>;
    page?: boolean;
    concurrency?: number;
    maxQueued?: number;
    /** An S3 endpoint already running (with a bucket `media`); default: an s3rver started here. */
    s3Endpoint?: string;
  } = {},
): Promise<CdnStack> {
  const directory = await mkdtemp(join(tmpdir(), "unjpeg-cdn-"));
  const local: LocalS3 | undefined =
    options.s3Endpoint === undefined
      ? await startLocalS3({ port: 0, directory, buckets: [BUCKET] })
      : undefined;
  const config = loadConfig({
    UNJPEG_BUCKET: BUCKET,
    UNJPEG_S3_ENDPOINT: local?.endpoint ?? options.s3Endpoint,
    UNJPEG_S3_FORCE_PATH_STYLE: "true",
    UNJPEG_MODEL_DIR: TEST_MODEL_DIR,
    UNJPEG_THREADS: "1",
    ...options.env,
  });
  const s3 = createS3Client(config, { credentials: LOCAL_CREDENTIALS });
  let restores = 0;
  const deriver: Deriver = {
    s3,
    config,
    decide: (header, restoreOptions: RestoreOptions) => decide(header, restoreOptions),
    restore: async (input, restoreOptions) => {
      const outcome = await restore(input, restoreOptions);
      if (outcome.action === "restored") restores += 1;
      return outcome;
    },
    // The tag of the model restore() runs: derivatives record it and staleness compares against it.
    model: (await loadModelFolder(config.modelDir ?? TEST_MODEL_DIR)).tag,
  };
  const app = await createOriginApp(config, {
    deriver,
    page: options.page ?? false,
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    ...(options.maxQueued === undefined ? {} : { maxQueued: options.maxQueued }),
  });
  const server: LocalServer = await startLocalServer(streamingPayloadHandler(app.origin), { port: 0 });
  return {
    url: server.url,
    s3,
    config,
    app,
    deriver,
    restores: () => restores,
    async put(key, body, contentType = "image/jpeg") {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: contentType }));
    },
    async close() {
      await server.close();
      await local?.close();
      s3.destroy();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** A photo-like test image (gradients plus texture) as a baseline JPEG of the given IJG quality. */
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
    .jpeg({ quality, chromaSubsampling: "4:2:0" })
    .toBuffer();
  return new Uint8Array(jpeg);
}
