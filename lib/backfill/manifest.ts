/**
 * Object lists other than a live listing: a CSV (the S3 Batch Operations manifest format: `bucket,key`
 * or `bucket,key,versionId`, keys URL-encoded) and an S3 Inventory report (`manifest.json` naming gzipped
 * CSV files, columns given by its `fileSchema`).
 */
import { createReadStream } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { createGunzip, gunzipSync } from "node:zlib";
import { UnjpegError } from "../errors.js";
import type { ListedObject } from "../storage/listing.js";

export type { ListedObject };

export class ManifestError extends UnjpegError {
  constructor(source: string, why: string) {
    super("BACKFILL_BAD_MANIFEST", `manifest ${source}: ${why}`, { status: 400 });
  }
}

/** Splits CSV text into rows of fields (RFC 4180: quoted fields, doubled quotes, CRLF or LF). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  while (i < text.length) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        field += char;
      }
    } else if (char === '"' && field === "") {
      quoted = true;
    } else if (char === ",") {
      row.push(field);
      field = "";
    } else if (char === "\n" || char === "\r") {
      if (char === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      if (!(row.length === 1 && row[0] === "")) rows.push(row);
      row = [];
      field = "";
    } else {
      field += char;
    }
    i++;
  }
  row.push(field);
  if (!(row.length === 1 && row[0] === "")) rows.push(row);
  return rows;
}

/** S3 writes keys in manifests and inventories URL-encoded, with `+` for spaces. */
export function decodeKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replace(/\+/g, " "));
  } catch {
    // Not valid percent-encoding: the key was written raw.
    return encoded;
  }
}

/** Columns of a CSV without a schema: the Batch Operations manifest. */
const BATCH_SCHEMA = ["Bucket", "Key", "VersionId"];

/**
 * Turns CSV rows into objects. `schema` names the columns (S3 Inventory's `fileSchema`); without one the
 * Batch Operations layout is assumed. Delete markers and non-latest versions of an inventory are left out.
 */
export function csvObjects(
  rows: readonly string[][],
  schema: readonly string[] = BATCH_SCHEMA,
  source = "CSV",
): ListedObject[] {
  const column = (name: string): number =>
    schema.findIndex((c) => c.trim().toLowerCase() === name.toLowerCase());
  const bucketAt = column("Bucket");
  const keyAt = column("Key");
  if (bucketAt === -1 || keyAt === -1)
    throw new ManifestError(source, "its schema has no Bucket and Key columns");
  const at = {
    version: column("VersionId"),
    size: column("Size"),
    etag: column("ETag"),
    modified: column("LastModifiedDate"),
    latest: column("IsLatest"),
    deleteMarker: column("IsDeleteMarker"),
  };
  const objects: ListedObject[] = [];
  rows.forEach((row, index) => {
    const bucket = row[bucketAt]?.trim();
    const key = row[keyAt];
    if (!bucket || key === undefined || key === "") {
      throw new ManifestError(source, `row ${index + 1} has no bucket or key`);
    }
    if (at.deleteMarker !== -1 && row[at.deleteMarker] === "true") return;
    if (at.latest !== -1 && row[at.latest] === "false") return;
    const field = (i: number): string | undefined => (i === -1 || !row[i] ? undefined : row[i]);
    const size = field(at.size);
    const modified = field(at.modified);
    const versionId = field(at.version);
    const etag = field(at.etag);
    objects.push({
      bucket,
      key: decodeKey(key),
      ...(versionId === undefined ? {} : { versionId }),
      ...(size === undefined ? {} : { size: Number(size) }),
      ...(etag === undefined ? {} : { etag: etag.replace(/^"|"$/g, "") }),
      ...(modified === undefined ? {} : { lastModified: new Date(modified) }),
    });
  });
  return objects;
}

/** The parts of an S3 Inventory `manifest.json` that name its data files. */
export interface InventoryManifest {
  readonly destinationBucket: string;
  readonly fileFormat: string;
  readonly fileSchema: readonly string[];
  readonly files: readonly { readonly key: string }[];
}

export function parseInventoryManifest(text: string, source: string): InventoryManifest {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new ManifestError(source, "is not JSON");
  }
  const files = json["files"];
  const format = json["fileFormat"];
  const schema = json["fileSchema"];
  if (!Array.isArray(files) || typeof schema !== "string" || typeof json["destinationBucket"] !== "string") {
    throw new ManifestError(
      source,
      "is not an S3 Inventory manifest (needs files, fileSchema, destinationBucket)",
    );
  }
  if (format !== "CSV") {
    throw new ManifestError(source, `inventory format ${String(format)} is not supported (use CSV)`);
  }
  // Inventory names the destination bucket as an ARN.
  const destinationBucket = (json["destinationBucket"] as string).replace(/^arn:aws[a-z-]*:s3:::/, "");
  return {
    destinationBucket,
    fileFormat: format,
    fileSchema: schema.split(",").map((c) => c.trim()),
    files: files.map((f) => ({ key: String((f as { key?: unknown }).key) })),
  };
}

/** Reads a data file body: gunzips when it is gzip (inventory files are `.csv.gz`). */
export function csvText(body: Uint8Array): string {
  const gzip = body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b;
  return Buffer.from(gzip ? gunzipSync(body) : body).toString("utf8");
}

/**
 * Yields the objects a manifest names. `read` fetches an inventory data file (bucket, key) from S3; a
 * plain CSV needs nothing else.
 */
export async function* manifestObjects(
  manifestText: Uint8Array,
  source: string,
  read: (bucket: string, key: string) => Promise<Uint8Array>,
): AsyncGenerator<ListedObject> {
  const text = csvText(manifestText);
  if (text.trimStart().startsWith("{")) {
    const manifest = parseInventoryManifest(text, source);
    for (const file of manifest.files) {
      const body = await read(manifest.destinationBucket, file.key);
      yield* csvObjects(parseCsv(csvText(body)), manifest.fileSchema, `${source} (${file.key})`);
    }
  } else {
    yield* csvObjects(parseCsv(text), BATCH_SCHEMA, source);
  }
}

/** A local file's lines, gunzipped when it is gzip, streamed: never held whole. */
async function* fileLines(path: string): AsyncGenerator<string> {
  const handle = await open(path, "r");
  const magic = Buffer.alloc(2);
  try {
    await handle.read(magic, 0, 2, 0);
  } finally {
    await handle.close();
  }
  const raw = createReadStream(path);
  const input = magic[0] === 0x1f && magic[1] === 0x8b ? raw.pipe(createGunzip()) : raw;
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    yield* lines;
  } finally {
    lines.close();
    raw.destroy();
  }
}

/**
 * The objects a local manifest file names. A CSV is read line by line (a Batch Operations manifest of
 * millions of keys is larger than a string may be; its keys are URL-encoded, so a record is one line);
 * an Inventory `manifest.json` is small and read whole.
 */
export async function* localManifestObjects(
  path: string,
  read: (bucket: string, key: string) => Promise<Uint8Array>,
): AsyncGenerator<ListedObject> {
  let lineNumber = 0;
  for await (const line of fileLines(path)) {
    lineNumber++;
    if (lineNumber === 1 && line.trimStart().startsWith("{")) {
      yield* manifestObjects(await readFile(path), path, read);
      return;
    }
    if (line.trim() === "") continue;
    yield* csvObjects(parseCsv(line), BATCH_SCHEMA, `${path} line ${lineNumber}`);
  }
}
