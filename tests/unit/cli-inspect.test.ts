import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { inspectFile } from "../../lib/cli/inspect.js";
import { inspectJpeg } from "../../lib/jpeg/index.js";
import { jpegOf, photoLike, resaved } from "./resave-tools.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const fixture = (name: string): string => join(root, "tests/fixtures/jpeg", name);

/** Runs the real command line, as `npm run -s unjpeg -- ...` does. */
async function unjpeg(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "lib/cli/main.ts", ...args],
      { cwd: root },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "unjpeg-inspect-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("--json: one object per line per file, the contract's fields, exit status 1 when one failed", async () => {
  const files = [
    fixture("cjpeg-q10-16bit.jpg"),
    fixture("malformed-dqt-overrun.jpg"),
    join(dir, "absent.jpg"),
  ];
  const { code, stdout } = await unjpeg("inspect", "--json", ...files);
  assert.equal(code, 1);
  const lines = stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
  assert.equal(lines.length, 3);
  assert.deepEqual(Object.keys(lines[0]), [
    "file",
    "ok",
    "quality",
    "match",
    "distance",
    "width",
    "height",
    "components",
    "bitDepth",
    "process",
    "subsampling",
    "tables",
  ]);
  assert.deepEqual(
    { ...lines[0], tables: undefined },
    {
      file: files[0],
      ok: true,
      quality: 10,
      match: "exact",
      distance: 0,
      width: 16,
      height: 16,
      components: 3,
      bitDepth: 8,
      process: "extended",
      subsampling: "4:2:0",
      tables: undefined,
    },
  );
  assert.deepEqual(Object.keys(lines[0].tables[0]), ["slot", "precision", "values"]);
  assert.equal(lines[0].tables[0].values.length, 64);
  assert.equal(lines[1].ok, false);
  assert.equal(lines[1].error.code, "JPEG_DQT_OVERRUN");
  assert.match(lines[1].error.message, /DQT/);
  assert.deepEqual(lines[2], {
    file: files[2],
    ok: false,
    error: { code: "FILE_NOT_FOUND", message: "no such file" },
  });
});

test("without --json: a readable table, exit status 0 when all files were read", async () => {
  const { code, stdout } = await unjpeg("inspect", fixture("cjpeg-flat8.jpg"), fixture("exif-thumb-q42.jpg"));
  assert.equal(code, 0);
  const lines = stdout.trim().split("\n");
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^quality\s+match\s+distance/);
  assert.match(lines[1]!, /^\d+\s+approximate\s+0\.\d+\s+16x16\s+8\s+baseline\s+4:2:0\s+.*cjpeg-flat8\.jpg$/);
  assert.match(lines[2]!, /^42\s+exact\s+0\.000\s+16x16/);
});

test("bad usage: exit status 2 and the usage on stderr", async () => {
  const none = await unjpeg("inspect");
  assert.equal(none.code, 2);
  assert.match(none.stderr, /usage: unjpeg inspect/);
  const unknown = await unjpeg("inspect", "--frobnicate", fixture("cjpeg-q90-422.jpg"));
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /frobnicate/);
});

test("reads only the headers of a large file", async () => {
  // 8 MiB of entropy-coded data behind 1.5 KiB of headers.
  const base = await readFile(fixture("exif-thumb-q42.jpg"));
  const big = Buffer.concat([base.subarray(0, -2), Buffer.alloc(8 * 1024 * 1024, 0x5a), base.subarray(-2)]);
  const path = join(dir, "big.jpg");
  await writeFile(path, big);
  const report = await inspectFile(path);
  assert.ok(report.ok);
  assert.equal(report.quality, 42);
  assert.ok(report.bytesRead <= 16384, `read ${report.bytesRead} bytes`);
  const directory = await inspectFile(dir);
  assert.deepEqual(directory.ok ? null : directory.error.code, "FILE_NOT_REGULAR");
});

test("--resaved: the earlier compression of a re-saved file in --json and in the table", async () => {
  const picture = photoLike(256, 192);
  const files = [join(dir, "resaved.jpg"), join(dir, "single.jpg"), fixture("cjpeg-q10-16bit.jpg")];
  await writeFile(files[0]!, await resaved(picture, 10, 95, [3, 5]));
  await writeFile(files[1]!, await jpegOf(picture, 95));
  const { code, stdout } = await unjpeg("inspect", "--json", "--resaved", ...files);
  assert.equal(code, 0);
  const [again, single, tiny] = stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
  assert.equal(again.quality, 95);
  assert.deepEqual(Object.keys(again.recompressed), ["quality", "offset", "confidence"]);
  assert.deepEqual(again.recompressed.offset, [3, 5]);
  assert.ok(Math.abs(again.recompressed.quality - 10) <= 5);
  assert.ok(again.recompressed.confidence > 0 && again.recompressed.confidence <= 1);
  assert.equal(single.recompressed, false);
  assert.equal(tiny.recompressed, false, "16×16: too few blocks to show one");
  assert.equal(Object.keys(again).at(-1), "recompressed");

  const table = await unjpeg("inspect", "--resaved", ...files.slice(0, 2));
  const lines = table.stdout.trim().split("\n");
  assert.match(lines[0]!, /sampling\s+resaved\s+file$/);
  assert.match(lines[1]!, /^95\s+exact\s+.*\s(\d+) @3,5\s+.*resaved\.jpg$/);
  assert.match(lines[2]!, /^95\s+exact\s+.*\sno\s+.*single\.jpg$/);
});

test("plain inspect is unchanged by --resaved: no field, no column, the headers' bytes only", async () => {
  const path = join(dir, "resaved-plain.jpg");
  const bytes = await resaved(photoLike(256, 192), 10, 95, [3, 5]);
  await writeFile(path, bytes);
  const plain = await inspectFile(path);
  const checked = await inspectFile(path, { resaved: true });
  assert.ok(plain.ok && checked.ok);
  assert.equal("recompressed" in plain, false);
  const headers = inspectJpeg(bytes, { fileSize: bytes.length });
  assert.ok(headers.status === "ok");
  // The headers fit the first 16 KiB read: that read is all plain inspect does, as before.
  assert.equal(plain.bytesRead, Math.min(16384, bytes.length));
  assert.ok(headers.headerBytes < plain.bytesRead);
  assert.equal(
    checked.bytesRead,
    plain.bytesRead + bytes.length,
    "--resaved reads the (small) file once more",
  );
  const { stdout } = await unjpeg("inspect", "--json", path);
  assert.equal("recompressed" in JSON.parse(stdout), false);
  const table = await unjpeg("inspect", path);
  assert.doesNotMatch(table.stdout, /resaved\s+file/);
});
