/**
 * S3 requests per path, counted on the wire (every attempt the storage core's client sends, after signing)
 * against a real s3rver with the real restore: an upload event, a CDN hit, a CDN miss, a backfill skip and
 * a backfill restore. Each object is asked about once: a miss or an upload costs 1 source HEAD, 1 look at
 * the derivative's key, 1 header GET, 1 GET of the rest and 1 conditional PUT, and nothing just written is
 * read back. The last test checks that docs/architecture.md (S3 requests per path) lists exactly these.
 *
 * The core's first read is lowered to 2 KiB here, so that the test's small images (4-10 KB) need the
 * second GET that a photo whose scans start past 64 KiB needs.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import type { S3Client } from "@aws-sdk/client-s3";
import { createUploadHandler } from "../../handlers/s3-upload.js";
import { deriveListedObject } from "../../lib/backfill/outcome.js";
import { createOriginApp } from "../../lib/http/app.js";
import type { OriginRequest } from "../../lib/http/types.js";
import { decide } from "../../lib/restore/decide.js";
import { restore } from "../../lib/restore/restore.js";
import type { Deriver } from "../../lib/storage/derive.js";
import { createDeriver } from "../../lib/storage/deriver.js";
import { encodeEventKey, isDerivativeKey } from "../../lib/storage/keys.js";
import { LOCAL_CREDENTIALS } from "../../lib/storage/local-s3.js";
import { createS3Client, headObject } from "../../lib/storage/s3.js";
import { photoLike, resaved } from "../unit/resave-tools.js";
import { BUCKET, makeJpeg, startTestStack, type TestStack } from "./upload-helpers.js";

const HEADER_BYTES = 2048;

/** Sizes of the objects the test put, by key: a ranged GET that ends with the object reads its rest. */
const sizes = new Map<string, number>();

/**
 * What a ranged GET reads: from byte 0, the headers; from further on to the end, the rest; a range that
 * ends before, more of the scan (the re-saved check's prefix of a high-quality source's scan).
 */
function rangePart(key: string | undefined, range: string | undefined): string {
  if (range === undefined) return "";
  if (range.startsWith("bytes=0-")) return " (headers)";
  const end = Number(/-(\d+)$/.exec(range)?.[1]);
  return key !== undefined && end === (sizes.get(key) ?? 0) - 1 ? " (rest)" : " (scan)";
}

/** Puts an object through the test's own client, remembering its size. */
async function put(key: string, body: Uint8Array): Promise<void> {
  sizes.set(key, body.byteLength);
  await stack.put(key, body);
}

/** Counts every request the client sends, by what it asks for: `HEAD source`, `GET source (rest)`, ... */
function countRequests(s3: S3Client, isDerivative: (key: string) => boolean) {
  const counts: Record<string, number> = {};
  let on = false;
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      if (on) {
        const request = args.request as { method: string; headers: Record<string, string> };
        const input = args.input as { Key?: string };
        const what = input.Key === undefined ? "" : isDerivative(input.Key) ? " derivative" : " source";
        const part = rangePart(input.Key, request.headers["range"]);
        const name = (context.commandName ?? "").replace(/Command$/, "");
        const label = `${request.method === "HEAD" ? "HEAD" : name}${what}${part}`;
        counts[label] = (counts[label] ?? 0) + 1;
      }
      return next(args);
    },
    { step: "finalizeRequest", name: "count-requests", priority: "low" },
  );
  return {
    /** The requests `work` made, by label. */
    async during(work: () => Promise<unknown>): Promise<Record<string, number>> {
      for (const label of Object.keys(counts)) delete counts[label];
      on = true;
      try {
        await work();
      } finally {
        on = false;
      }
      return { ...counts };
    },
  };
}

let stack: TestStack;
let deriver: Deriver;
let counter: ReturnType<typeof countRequests>;
/** Decisions made since the last reset (decide answering restore or skip), and what the restore got. */
const decisions = { made: 0, handedToRestore: false };
const resetDecisions = () => Object.assign(decisions, { made: 0, handedToRestore: false });
const table: string[] = [];

before(async () => {
  stack = await startTestStack();
  // The core's own client, counted; the test's own requests go through the stack's client.
  const s3 = createS3Client(stack.config, { credentials: LOCAL_CREDENTIALS });
  counter = countRequests(s3, (key) => isDerivativeKey(key, stack.config));
  // The real decide and restore, watched: how many decisions a path makes, and whether the restore was
  // handed the decision (then it reads the headers for the model and decides nothing again).
  deriver = await createDeriver(
    { ...stack.config, bucket: BUCKET },
    {
      s3,
      headerBytes: HEADER_BYTES,
      decide: (header, options) => {
        const decision = decide(header, options);
        if (decision.action !== "need-more-bytes") decisions.made++;
        return decision;
      },
      restore: (input, options) => {
        decisions.handedToRestore = options.decided !== undefined;
        return restore(input, options);
      },
    },
  );
});
after(async () => {
  deriver?.s3.destroy();
  await stack?.close();
});

const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);
function record(path: string, counts: Record<string, number>): void {
  const parts = Object.entries(counts).map(([label, n]) => `${n} ${label}`);
  table.push(`| ${path} | ${total(counts)}: ${parts.join(", ")} |`);
}

const s3Event = (key: string) => ({
  Records: [
    {
      eventSource: "aws:s3",
      eventName: "ObjectCreated:Put",
      s3: { bucket: { name: BUCKET }, object: { key: encodeEventKey(key) } },
    },
  ],
});

describe("S3 requests per path", () => {
  const upload = createUploadHandler(() => Promise.resolve(deriver), { sink: () => undefined });

  it("upload event (a restore): 1 source HEAD, 1 derivative HEAD, 1 header GET, 1 GET of the rest, 1 PUT", async () => {
    await put("counts/upload.jpg", await makeJpeg(15, 512, 384, 1));
    resetDecisions();
    const counts = await counter.during(() => upload(s3Event("counts/upload.jpg"), {} as never));
    record("upload event, restored", counts);
    assert.deepEqual(
      decisions,
      { made: 1, handedToRestore: true },
      "one decision, taken over by the restore",
    );
    assert.deepEqual(counts, {
      "HEAD source": 1,
      "HEAD derivative": 1,
      "GetObject source (headers)": 1,
      "GetObject source (rest)": 1,
      "PutObject derivative": 1,
    });
  });

  it("upload event (a skip): the two HEADs, the header GET and the re-saved check's GET of the scan's first MiB", async () => {
    // 1.3 MB: longer than the check reads (1 MiB past the scan's start), so its read ends before the file.
    await put("counts/high.jpg", await makeJpeg(97, 1920, 1080, 2));
    const counts = await counter.during(() => upload(s3Event("counts/high.jpg"), {} as never));
    assert.equal(await headObject(stack.s3, BUCKET, "counts/high.restored.jpg"), null, "skipped");
    record("upload event, skipped (high quality, not re-saved)", counts);
    assert.deepEqual(counts, {
      "HEAD source": 1,
      "HEAD derivative": 1,
      "GetObject source (headers)": 1,
      "GetObject source (scan)": 1,
    });
  });

  it("upload event (a re-saved source, restored): the check's read reaches the end of a small file, so no further GET", async () => {
    await put("counts/resaved.jpg", await resaved(photoLike(256, 192, 8), 10, 95, [4, 1]));
    const counts = await counter.during(() => upload(s3Event("counts/resaved.jpg"), {} as never));
    const derivative = await headObject(stack.s3, BUCKET, "counts/resaved.restored.jpg");
    assert.ok(derivative?.metadata["unjpeg-earlier-quality"] !== undefined, "restored as re-saved");
    record("upload event, re-saved source restored", counts);
    assert.deepEqual(counts, {
      "HEAD source": 1,
      "HEAD derivative": 1,
      "GetObject source (headers)": 1,
      "GetObject source (rest)": 1,
      "PutObject derivative": 1,
    });
  });

  describe("CDN origin", () => {
    const get = (key: string): OriginRequest => ({
      method: "GET",
      path: `/${key}`,
      query: "",
      headers: { accept: "image/jpeg" },
      // As on Lambda: an answer due in a minute, so the origin triages the source upfront (its estimate).
      answerBy: Date.now() + 60_000,
    });

    it("miss: 1 source HEAD, 1 derivative GET (none there), 1 header GET (the triage, taken over by the restore), 1 GET of the rest, 1 PUT; nothing read back", async () => {
      const { origin } = await createOriginApp(deriver.config, { deriver, hotCacheBytes: 0 });
      await put("counts/miss.jpg", await makeJpeg(15, 512, 384, 3));
      let status = 0;
      resetDecisions();
      const counts = await counter.during(async () => {
        const response = await origin(get("counts/miss.jpg"));
        status = response.status;
        assert.equal(response.headers["x-unjpeg-action"], "restored");
      });
      assert.equal(status, 200);
      record("CDN miss (restored and stored)", counts);
      assert.deepEqual(
        decisions,
        { made: 1, handedToRestore: true },
        "the origin's triage is the one decision",
      );
      assert.deepEqual(counts, {
        "HEAD source": 1,
        "GetObject derivative": 1,
        "GetObject source (headers)": 1,
        "GetObject source (rest)": 1,
        "PutObject derivative": 1,
      });
    });

    it("miss on a high-quality source: the triage (header GET, the re-saved check's scan GET), then the original served (1 GET)", async () => {
      const { origin } = await createOriginApp(deriver.config, { deriver, hotCacheBytes: 0 });
      const counts = await counter.during(async () => {
        const response = await origin(get("counts/high.jpg"));
        assert.equal(response.headers["x-unjpeg-action"], "skipped");
      });
      record("CDN miss, skipped (high quality, not re-saved): the original served", counts);
      assert.deepEqual(counts, {
        "HEAD source": 1,
        "GetObject derivative": 1,
        "GetObject source (headers)": 1,
        "GetObject source (scan)": 1,
        "GetObject source": 1,
      });
    });

    it("hit: 1 source HEAD and 1 derivative GET (read once); from the origin's memory, the HEAD alone", async () => {
      const cold = (await createOriginApp(deriver.config, { deriver, hotCacheBytes: 0 })).origin;
      const counts = await counter.during(async () => {
        const response = await cold(get("counts/miss.jpg"));
        assert.equal(response.headers["x-unjpeg-action"], "hit");
      });
      record("CDN hit", counts);
      assert.deepEqual(counts, { "HEAD source": 1, "GetObject derivative": 1 });

      const warm = (await createOriginApp(deriver.config, { deriver })).origin;
      await warm(get("counts/miss.jpg"));
      const again = await counter.during(async () => {
        const response = await warm(get("counts/miss.jpg"));
        assert.equal(response.headers["x-unjpeg-action"], "hit");
      });
      record("CDN hit held in the origin's memory (checked against the source)", again);
      assert.deepEqual(again, { "HEAD source": 1 });
    });
  });

  describe("backfill (listed objects: ETag and size from the listing)", () => {
    const listed = async (key: string) => {
      const head = (await headObject(stack.s3, BUCKET, key))!;
      return { bucket: BUCKET, key, etag: head.eTag, size: head.size };
    };

    it("skip: the header GET (and, for a high-quality source, the re-saved check's), no HEAD", async () => {
      await put("counts/archive-high.jpg", await makeJpeg(97, 1920, 1080, 4));
      const object = await listed("counts/archive-high.jpg");
      const counts = await counter.during(() =>
        deriveListedObject(deriver, object, new AbortController().signal),
      );
      record("backfill, skipped (high quality, not re-saved)", counts);
      assert.deepEqual(counts, { "GetObject source (headers)": 1, "GetObject source (scan)": 1 });

      await put("counts/archive-bad.jpg", new TextEncoder().encode("not a JPEG at all"));
      const bad = await listed("counts/archive-bad.jpg");
      const badCounts = await counter.during(() =>
        deriveListedObject(deriver, bad, new AbortController().signal),
      );
      record("backfill, skipped (not a JPEG)", badCounts);
      assert.deepEqual(badCounts, { "GetObject source (headers)": 1 });
    });

    it("restore: 1 header GET, then 1 source HEAD, 1 derivative HEAD, 1 GET of the rest, 1 PUT", async () => {
      await put("counts/archive-low.jpg", await makeJpeg(15, 512, 384, 5));
      const object = await listed("counts/archive-low.jpg");
      const result = { outcome: "" };
      const counts = await counter.during(async () => {
        result.outcome = (await deriveListedObject(deriver, object, new AbortController().signal)).outcome;
      });
      assert.equal(result.outcome, "restored");
      record("backfill, restored", counts);
      assert.deepEqual(counts, {
        "GetObject source (headers)": 1,
        "HEAD source": 1,
        "HEAD derivative": 1,
        "GetObject source (rest)": 1,
        "PutObject derivative": 1,
      });
    });

    it("already restored: the header GET and the two HEADs", async () => {
      const object = await listed("counts/archive-low.jpg");
      const counts = await counter.during(() =>
        deriveListedObject(deriver, object, new AbortController().signal),
      );
      record("backfill, current derivative", counts);
      assert.deepEqual(counts, { "GetObject source (headers)": 1, "HEAD source": 1, "HEAD derivative": 1 });
    });
  });
});

it("docs/architecture.md lists exactly these counts", async () => {
  const doc = await readFile(new URL("../../docs/architecture.md", import.meta.url), "utf8");
  const section = /<!-- request-counts: start -->\n([\s\S]*?)<!-- request-counts: end -->/.exec(doc);
  assert.ok(section !== null, "the table's markers are in docs/architecture.md");
  const rows = section[1]!.trim().split("\n").slice(2);
  const counted = `| path | S3 requests |\n|---|---|\n${table.join("\n")}`;
  assert.deepEqual(rows, table, `docs/architecture.md's table should read:\n${counted}`);
});
