import assert from "node:assert/strict";
import { test } from "node:test";
import { GlobError, globToRegExp, makeKeyFilter, parseSince } from "../../lib/backfill/glob.js";

test("* and ? stay within a segment, ** crosses segments", () => {
  const star = globToRegExp("photos/*.jpg");
  assert.ok(star.test("photos/cat.jpg"));
  assert.ok(!star.test("photos/2024/cat.jpg"));
  assert.ok(globToRegExp("photos/**/*.jpg").test("photos/2024/05/cat.jpg"));
  assert.ok(globToRegExp("photos/**/*.jpg").test("photos/cat.jpg"), "**/ matches zero segments");
  assert.ok(globToRegExp("**").test("a/b/c"));
  assert.ok(globToRegExp("img-??.jpg").test("img-01.jpg"));
  assert.ok(!globToRegExp("img-??.jpg").test("img-1/.jpg"));
});

test("braces, classes, escapes and regexp characters", () => {
  const re = globToRegExp("**/*.{jpg,jpeg,JPG}");
  assert.ok(re.test("a/b.jpeg") && re.test("b.JPG") && !re.test("b.png"));
  assert.ok(globToRegExp("shot[0-9].jpg").test("shot7.jpg"));
  assert.ok(!globToRegExp("shot[!0-9].jpg").test("shot7.jpg"));
  assert.ok(globToRegExp("a+b (1).jpg").test("a+b (1).jpg"), "regexp specials are literal");
  assert.ok(globToRegExp("\\*.jpg").test("*.jpg") && !globToRegExp("\\*.jpg").test("x.jpg"));
  assert.throws(() => globToRegExp("{a,b"), GlobError);
  assert.throws(() => globToRegExp("[abc"), GlobError);
});

test("filter: include any, exclude wins, since by last-modified", () => {
  const filter = makeKeyFilter({
    include: ["**/*.jpg", "**/*.jpeg"],
    exclude: ["tmp/**"],
    since: new Date("2024-01-01T00:00:00Z"),
  });
  const recent = new Date("2024-06-01T00:00:00Z");
  assert.equal(filter({ key: "a/b.jpg", lastModified: recent }), true);
  assert.equal(filter({ key: "a/b.png", lastModified: recent }), false);
  assert.equal(filter({ key: "tmp/b.jpg", lastModified: recent }), false);
  assert.equal(filter({ key: "a/b.jpg", lastModified: new Date("2023-12-31T23:59:59Z") }), false);
  assert.equal(filter({ key: "a/b.jpg" }), true, "no date (a CSV manifest): not filtered by since");
  assert.equal(makeKeyFilter({})({ key: "anything" }), true);
});

test("--since takes ISO dates and ages", () => {
  const now = new Date("2024-06-10T12:00:00Z");
  assert.equal(parseSince("2024-01-31", now).toISOString(), "2024-01-31T00:00:00.000Z");
  assert.equal(parseSince("2024-01-31T12:30:00Z", now).toISOString(), "2024-01-31T12:30:00.000Z");
  assert.equal(parseSince("7d", now).toISOString(), "2024-06-03T12:00:00.000Z");
  assert.equal(parseSince("12h", now).toISOString(), "2024-06-10T00:00:00.000Z");
  assert.throws(() => parseSince("yesterday", now), { code: "BACKFILL_BAD_SINCE" });
  assert.throws(() => parseSince("2024-13-45", now), { code: "BACKFILL_BAD_SINCE" });
});
