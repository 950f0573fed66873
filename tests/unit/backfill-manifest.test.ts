import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { gzipSync } from "node:zlib";
import {
  csvObjects,
  type ListedObject,
  localManifestObjects,
  manifestObjects,
  parseCsv,
} from "../../lib/backfill/manifest.js";

const collect = async (source: AsyncIterable<ListedObject>) => {
  const out: ListedObject[] = [];
  for await (const item of source) out.push(item);
  return out;
};

test("CSV: quotes, doubled quotes, CRLF, blank lines", () => {
  assert.deepEqual(parseCsv('a,"b,c","d ""e"""\r\n\nx,y\n'), [
    ["a", "b,c", 'd "e"'],
    ["x", "y"],
  ]);
  assert.deepEqual(parseCsv("a,b"), [["a", "b"]]);
});

test("Batch Operations manifest: bucket,key[,version] with URL-encoded keys", () => {
  const objects = csvObjects(
    parseCsv("photos,cats/tabby+cat%2B1.jpg\nphotos,dogs/rex.jpg,3HL4kqtJlcpXroDTDmJ\n"),
  );
  assert.deepEqual(objects, [
    { bucket: "photos", key: "cats/tabby cat+1.jpg" },
    { bucket: "photos", key: "dogs/rex.jpg", versionId: "3HL4kqtJlcpXroDTDmJ" },
  ]);
  assert.throws(() => csvObjects([["photos"]]), { code: "BACKFILL_BAD_MANIFEST" });
});

test("S3 Inventory: manifest.json naming gzipped CSVs, columns from fileSchema", async () => {
  const manifest = JSON.stringify({
    sourceBucket: "photos",
    destinationBucket: "arn:aws:s3:::inventory-bucket",
    version: "2016-11-30",
    fileFormat: "CSV",
    fileSchema: "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag",
    files: [{ key: "photos/daily/data/one.csv.gz", size: 1, MD5checksum: "x" }],
  });
  const data = [
    '"photos","a/cat%20one.jpg","v1","true","false","1234","2024-05-01T10:00:00.000Z","d41d8cd98f00b204e9800998ecf8427e"',
    '"photos","a/old.jpg","v0","false","false","1","2024-01-01T10:00:00.000Z","e1"',
    '"photos","a/gone.jpg","v2","true","true","","2024-05-01T10:00:00.000Z",""',
  ].join("\n");
  const reads: string[] = [];
  const objects = await collect(
    manifestObjects(Buffer.from(manifest), "manifest.json", async (bucket, key) => {
      reads.push(`${bucket}/${key}`);
      return gzipSync(data);
    }),
  );
  assert.deepEqual(reads, ["inventory-bucket/photos/daily/data/one.csv.gz"]);
  assert.deepEqual(objects, [
    {
      bucket: "photos",
      key: "a/cat one.jpg",
      versionId: "v1",
      size: 1234,
      etag: "d41d8cd98f00b204e9800998ecf8427e",
      lastModified: new Date("2024-05-01T10:00:00.000Z"),
    },
  ]);
});

test("an inventory in another format is refused with a clear error", async () => {
  const manifest = JSON.stringify({
    destinationBucket: "b",
    fileFormat: "Parquet",
    fileSchema: "x",
    files: [],
  });
  await assert.rejects(
    collect(manifestObjects(Buffer.from(manifest), "m.json", async () => new Uint8Array())),
    {
      code: "BACKFILL_BAD_MANIFEST",
      message: /Parquet/,
    },
  );
});

const dir = await mkdtemp(join(tmpdir(), "unjpeg-manifest-"));
after(() => rm(dir, { recursive: true, force: true }));
const noS3 = async (): Promise<Uint8Array> => {
  throw new Error("no S3 read expected");
};

test("a local CSV manifest is streamed line by line, gzipped or not", async () => {
  const lines = Array.from({ length: 5000 }, (_, i) => `photos,dir/img+${i}.jpg`).join("\r\n");
  await writeFile(join(dir, "m.csv"), `${lines}\r\n\r\n`);
  await writeFile(join(dir, "m.csv.gz"), gzipSync(lines));
  for (const name of ["m.csv", "m.csv.gz"]) {
    const objects = await collect(localManifestObjects(join(dir, name), noS3));
    assert.equal(objects.length, 5000, name);
    assert.deepEqual(objects[4999], { bucket: "photos", key: "dir/img 4999.jpg" });
  }
  await writeFile(join(dir, "bad.csv"), "photos,a.jpg\nphotos\n");
  await assert.rejects(collect(localManifestObjects(join(dir, "bad.csv"), noS3)), {
    code: "BACKFILL_BAD_MANIFEST",
    message: /bad\.csv line 2/,
  });
});

test("a local Inventory manifest.json is read whole and its data files fetched", async () => {
  const manifest = {
    destinationBucket: "arn:aws:s3:::inv",
    fileFormat: "CSV",
    fileSchema: "Bucket, Key",
    files: [{ key: "d.csv.gz" }],
  };
  await writeFile(join(dir, "manifest.json"), JSON.stringify(manifest, null, 2));
  const objects = await collect(
    localManifestObjects(join(dir, "manifest.json"), async () => gzipSync('"photos","x%2By.jpg"\n')),
  );
  assert.deepEqual(objects, [{ bucket: "photos", key: "x+y.jpg" }]);
});
