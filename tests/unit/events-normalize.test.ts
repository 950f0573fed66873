import assert from "node:assert/strict";
import { test } from "node:test";
import {
  classifyInvocation,
  EventFormatError,
  objectEventsFromMessage,
  objectEventsFromMessageText,
} from "../../lib/storage/events.js";

/** An S3 event notification record as AWS documents it (notification-content-structure). */
const s3Record = (eventName: string, key: string, extra: Record<string, unknown> = {}) => ({
  eventVersion: "2.1",
  eventSource: "aws:s3",
  awsRegion: "us-west-2",
  eventTime: "1970-01-01T00:00:00.000Z",
  eventName,
  userIdentity: { principalId: "AIDAJDPLRKLG7UEXAMPLE" },
  s3: {
    s3SchemaVersion: "1.0",
    configurationId: "testConfigRule",
    bucket: { name: "media", ownerIdentity: { principalId: "A3NL1KOZZKExample" }, arn: "arn:aws:s3:::media" },
    object: {
      key,
      size: 1024,
      eTag: "d41d8cd98f00b204e9800998ecf8427e",
      sequencer: "0055AED6DCD90281E5",
      ...extra,
    },
  },
});

const eventBridge = (detailType: string, key: string) => ({
  version: "0",
  id: "17793124-05d4-b198-2fde-7ededc63b103",
  "detail-type": detailType,
  source: "aws.s3",
  account: "111122223333",
  time: "2021-11-12T00:00:00Z",
  region: "ca-central-1",
  resources: ["arn:aws:s3:::media"],
  detail: {
    version: "0",
    bucket: { name: "media" },
    object: {
      key,
      size: 5,
      etag: "b1946ac92492d2347c6235b4d2611184",
      "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
      sequencer: "617f08299329d189",
    },
    "request-id": "N4N7GDK58NMKJ12R",
    requester: "123456789012",
    reason: "PutObject",
  },
});

test("S3 notification records become object events with decoded keys", () => {
  const [event] = objectEventsFromMessage({
    Records: [s3Record("ObjectCreated:Put", "photos/my+cat+%2B1+K%C3%A4tzchen.jpg", { versionId: "v1" })],
  });
  assert.deepEqual(event, {
    change: "created",
    bucket: "media",
    key: "photos/my cat +1 Kätzchen.jpg",
    eTag: "d41d8cd98f00b204e9800998ecf8427e",
    versionId: "v1",
    size: 1024,
    sequencer: "0055AED6DCD90281E5",
    name: "ObjectCreated:Put",
  });
});

test("event names map to created / removed / other", () => {
  const change = (name: string) => objectEventsFromMessage({ Records: [s3Record(name, "a.jpg")] })[0]?.change;
  assert.equal(change("ObjectCreated:CompleteMultipartUpload"), "created");
  assert.equal(change("ObjectCreated:Copy"), "created");
  assert.equal(change("ObjectRemoved:Delete"), "removed");
  assert.equal(change("ObjectRemoved:DeleteMarkerCreated"), "removed");
  assert.equal(change("LifecycleExpiration:Delete"), "removed");
  assert.equal(change("ObjectRestore:Completed"), "other");
  assert.equal(change("ObjectTagging:Put"), "other");
});

test("EventBridge Object Created / Deleted events", () => {
  const [created] = objectEventsFromMessage(eventBridge("Object Created", "photos/a+b.jpg"));
  assert.equal(created?.change, "created");
  assert.equal(created?.key, "photos/a b.jpg");
  assert.equal(created?.versionId, "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e");
  assert.equal(created?.eTag, "b1946ac92492d2347c6235b4d2611184");
  assert.equal(objectEventsFromMessage(eventBridge("Object Deleted", "x.jpg"))[0]?.change, "removed");
  assert.equal(objectEventsFromMessage(eventBridge("Object Restore Completed", "x.jpg"))[0]?.change, "other");
});

test("SNS envelopes and S3 test events", () => {
  const sns = {
    Type: "Notification",
    MessageId: "m",
    Message: JSON.stringify({ Records: [s3Record("ObjectCreated:Put", "a.jpg")] }),
  };
  assert.equal(objectEventsFromMessage(sns)[0]?.key, "a.jpg");
  const testEvent = {
    Service: "Amazon S3",
    Event: "s3:TestEvent",
    Time: "2014-10-13T15:57:02.089Z",
    Bucket: "media",
  };
  assert.deepEqual(objectEventsFromMessage(testEvent), []);
});

test("malformed messages throw EventFormatError", () => {
  assert.throws(() => objectEventsFromMessageText("not json"), EventFormatError);
  assert.throws(() => objectEventsFromMessage([]), EventFormatError);
  assert.throws(() => objectEventsFromMessage({ hello: 1 }), EventFormatError);
  assert.throws(
    () => objectEventsFromMessage({ Records: [{ eventSource: "aws:s3", s3: {} }] }),
    EventFormatError,
  );
  assert.throws(
    () => objectEventsFromMessage({ Records: [{ eventSource: "aws:dynamodb" }] }),
    EventFormatError,
  );
});

test("SQS batches are classified per message; a bad message does not spoil the others", () => {
  const sqs = (messageId: string, body: string) => ({
    messageId,
    receiptHandle: "r",
    body,
    attributes: {},
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:q",
    awsRegion: "us-east-1",
  });
  const invocation = classifyInvocation({
    Records: [
      sqs("1", JSON.stringify({ Records: [s3Record("ObjectCreated:Put", "a.jpg")] })),
      sqs("2", "{broken"),
      sqs("3", JSON.stringify(eventBridge("Object Created", "b.jpg"))),
      sqs("4", JSON.stringify({ Records: [s3Record("ObjectCreated:Put", "bad%E0%A4%A.jpg")] })),
    ],
  });
  assert.equal(invocation.kind, "sqs");
  assert.deepEqual(
    invocation.units.map((m) => [m.id, Array.isArray(m.events) ? m.events.map((e) => e.key) : m.events.code]),
    [
      ["1", ["a.jpg"]],
      ["2", "EVENT_INVALID"],
      ["3", ["b.jpg"]],
      ["4", "EVENT_KEY_INVALID"],
    ],
  );
});

const keysOf = (invocation: ReturnType<typeof classifyInvocation>) =>
  invocation.units.map((u) =>
    Array.isArray(u.events) ? u.events.map((e) => `${e.change}:${e.key}`) : u.events.code,
  );

test("direct S3 and EventBridge invocations, one unit per record", () => {
  const direct = classifyInvocation({
    Records: [
      s3Record("ObjectCreated:Put", "a.jpg"),
      s3Record("ObjectCreated:Put", "bad%E0%A4%A.jpg"),
      s3Record("ObjectRemoved:Delete", "b.jpg"),
    ],
  });
  assert.equal(direct.kind, "direct");
  assert.deepEqual(keysOf(direct), [["created:a.jpg"], "EVENT_KEY_INVALID", ["removed:b.jpg"]]);
  const bridge = classifyInvocation(eventBridge("Object Created", "c.jpg"));
  assert.deepEqual(keysOf(bridge), [["created:c.jpg"]]);
  assert.deepEqual(keysOf(classifyInvocation({ nope: true })), ["EVENT_INVALID"]);
});
