/**
 * One record shape for every way an object change reaches unjpeg: S3 event notifications (direct, or in
 * an SQS message, or in an SNS envelope in an SQS message) and EventBridge "Object Created"/"Object
 * Deleted" events. Pure functions over parsed JSON; keys come out decoded. Shared by the upload handler,
 * the queue worker and the batch code (docs/CONTRACTS.md, Messages).
 */
import { UnjpegError } from "../errors.js";
import { decodeEventKey } from "./keys.js";
import { normalizeETag } from "./metadata.js";

export type ObjectChange = "created" | "removed" | "other";

export interface ObjectEvent {
  readonly change: ObjectChange;
  readonly bucket: string;
  /** Decoded: the key as S3's API takes it. */
  readonly key: string;
  /** Without quotes; absent on removals. */
  readonly eTag: string | undefined;
  readonly versionId: string | undefined;
  readonly size: number | undefined;
  /** S3's ordering token for events on one key (hex; larger is later). */
  readonly sequencer: string | undefined;
  /** The event's own name, e.g. `ObjectCreated:Put` or `Object Created`. */
  readonly name: string;
}

export class EventFormatError extends UnjpegError {
  constructor(message: string, cause?: unknown) {
    super("EVENT_INVALID", message, { cause, status: 400 });
  }
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);
const num = (value: unknown): number | undefined =>
  typeof value === "number" && Number.isFinite(value) ? value : undefined;

function changeOfS3EventName(name: string): ObjectChange {
  if (name.startsWith("ObjectCreated:")) return "created";
  // Lifecycle expirations remove objects just as deletes do; both also come as delete markers.
  if (name.startsWith("ObjectRemoved:") || name.startsWith("LifecycleExpiration:")) return "removed";
  return "other";
}

function changeOfDetailType(detailType: string): ObjectChange {
  if (detailType === "Object Created") return "created";
  if (detailType === "Object Deleted") return "removed";
  return "other";
}

/** One record of an S3 event notification (`Records[i]` with `eventSource: "aws:s3"`). */
export function fromS3Record(record: unknown): ObjectEvent {
  if (!isObject(record) || !isObject(record["s3"]))
    throw new EventFormatError("S3 record without an s3 field");
  const s3 = record["s3"];
  const bucket = isObject(s3["bucket"]) ? str(s3["bucket"]["name"]) : undefined;
  const object = isObject(s3["object"]) ? s3["object"] : undefined;
  const encodedKey = object === undefined ? undefined : str(object["key"]);
  const name = str(record["eventName"]) ?? "";
  if (bucket === undefined || encodedKey === undefined) {
    throw new EventFormatError(`S3 record ${name || "(unnamed)"} lacks a bucket name or an object key`);
  }
  return {
    change: changeOfS3EventName(name),
    bucket,
    key: decodeEventKey(encodedKey),
    eTag: normalizeETag(str(object?.["eTag"])),
    versionId: str(object?.["versionId"]),
    size: num(object?.["size"]),
    sequencer: str(object?.["sequencer"]),
    name,
  };
}

/** An EventBridge event from `aws.s3` (its object key is URL-encoded like in notifications). */
export function fromEventBridge(event: Json): ObjectEvent {
  const detailType = str(event["detail-type"]) ?? "";
  const detail = isObject(event["detail"]) ? event["detail"] : undefined;
  const bucket =
    detail !== undefined && isObject(detail["bucket"]) ? str(detail["bucket"]["name"]) : undefined;
  const object = detail !== undefined && isObject(detail["object"]) ? detail["object"] : undefined;
  const encodedKey = object === undefined ? undefined : str(object["key"]);
  if (bucket === undefined || encodedKey === undefined) {
    throw new EventFormatError(
      `EventBridge "${detailType}" event lacks detail.bucket.name or detail.object.key`,
    );
  }
  return {
    change: changeOfDetailType(detailType),
    bucket,
    key: decodeEventKey(encodedKey),
    eTag: normalizeETag(str(object?.["etag"])),
    versionId: str(object?.["version-id"]),
    size: num(object?.["size"]),
    sequencer: str(object?.["sequencer"]),
    name: detailType,
  };
}

const isEventBridge = (value: Json): boolean => value["source"] === "aws.s3" && "detail-type" in value;

/**
 * The object events in one message body, already parsed: an S3 notification (`{"Records": [...]}`), an
 * EventBridge event, or an SNS envelope around either. S3's `s3:TestEvent` holds none.
 */
export function objectEventsFromMessage(body: unknown): ObjectEvent[] {
  if (!isObject(body)) throw new EventFormatError("message is not a JSON object");
  if (Array.isArray(body["Records"])) {
    return body["Records"].map((record) => {
      if (isObject(record) && record["eventSource"] !== undefined && record["eventSource"] !== "aws:s3") {
        throw new EventFormatError(
          `record from ${String(record["eventSource"])} where an S3 record was expected`,
        );
      }
      return fromS3Record(record);
    });
  }
  if (isEventBridge(body)) return [fromEventBridge(body)];
  if (body["Event"] === "s3:TestEvent") return [];
  if (body["Type"] === "Notification" && typeof body["Message"] === "string") {
    return objectEventsFromMessageText(body["Message"]);
  }
  throw new EventFormatError("message is neither an S3 event notification nor an EventBridge S3 event");
}

/** Same as `objectEventsFromMessage` for a message's text (an SQS body). */
export function objectEventsFromMessageText(text: string): ObjectEvent[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new EventFormatError("message body is not JSON", error);
  }
  return objectEventsFromMessage(parsed);
}

/** A unit the handler answers for: one SQS message, or one record of a direct invocation. */
export interface EventUnit {
  /** The SQS message id (for partial batch failures), or `record-<i>` in a direct invocation. */
  readonly id: string;
  /** Its object events, or why they could not be read (that unit only fails). */
  readonly events: ObjectEvent[] | UnjpegError;
}

export interface Invocation {
  /** `sqs`: failures are answered per message (batchItemFailures); `direct`: the invocation fails. */
  readonly kind: "sqs" | "direct";
  readonly units: EventUnit[];
}

function unit(id: string, read: () => ObjectEvent[]): EventUnit {
  try {
    return { id, events: read() };
  } catch (error) {
    return { id, events: error instanceof UnjpegError ? error : new EventFormatError(String(error), error) };
  }
}

/**
 * Classifies a raw Lambda event: SQS messages, S3 notification records or one EventBridge event. A
 * malformed message or record becomes an error on that unit only, so the rest goes on.
 */
export function classifyInvocation(event: unknown): Invocation {
  if (isObject(event) && Array.isArray(event["Records"])) {
    const records: unknown[] = event["Records"];
    const sqs = records.length > 0 && records.every((r) => isObject(r) && r["eventSource"] === "aws:sqs");
    if (sqs) {
      return {
        kind: "sqs",
        units: records.map((record) => {
          const json = record as Json;
          return unit(str(json["messageId"]) ?? "", () =>
            objectEventsFromMessageText(str(json["body"]) ?? ""),
          );
        }),
      };
    }
    return {
      kind: "direct",
      units: records.map((record, i) =>
        unit(`record-${i}`, () => objectEventsFromMessage({ Records: [record] })),
      ),
    };
  }
  return { kind: "direct", units: [unit("event", () => objectEventsFromMessage(event))] };
}
