import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HttpError } from "../../lib/http/errors.js";
import { checkPrefix, parseKey, route } from "../../lib/http/route.js";

const refusal = (fn: () => unknown): { status: number; code: string } => {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof HttpError, String(error));
    return { status: error.status, code: error.code };
  }
  assert.fail("expected a refusal");
};

describe("route", () => {
  it("redirects / to the page and names reserved paths", () => {
    assert.deepEqual(route("/", ""), { kind: "redirect", location: "/_unjpeg/" });
    assert.deepEqual(route("/_unjpeg", ""), { kind: "redirect", location: "/_unjpeg/" });
    assert.deepEqual(route("/_unjpeg/health", ""), { kind: "health" });
    assert.deepEqual(route("/_unjpeg/", ""), { kind: "page", asset: "index.html" });
    assert.deepEqual(route("/_unjpeg/page.css", ""), { kind: "page", asset: "page.css" });
    assert.equal(route("/_unjpeg/api/upload", "name=a.jpg").kind, "api");
    assert.deepEqual(
      refusal(() => route("/_unjpeg/../etc", "")),
      { status: 404, code: "NOT_FOUND" },
    );
  });

  it("parses an image request with its parameters", () => {
    const request = route("/photos/a%20cat%2B.jpg", "format=webp&quality=80");
    assert.equal(request.kind, "image");
    if (request.kind !== "image") return;
    assert.equal(request.key, "photos/a cat+.jpg");
    assert.equal(request.format, "webp");
    assert.equal(request.quality, 80);
    const plain = route("/x/%E7%8C%AB.jpg", "");
    assert.ok(plain.kind === "image" && plain.key === "x/猫.jpg" && plain.format === undefined);
    const auto = route("/a.jpg", "format=auto");
    assert.ok(auto.kind === "image" && auto.format === "auto");
  });

  it("refuses bad parameters with 400", () => {
    for (const query of [
      "format=gif",
      "quality=0",
      "quality=101",
      "quality=8.5",
      "quality=abc",
      "expires=soon",
      "width=100",
      "format=webp&format=jpeg",
    ]) {
      assert.deepEqual(
        refusal(() => route("/a.jpg", query)),
        { status: 400, code: "BAD_PARAMETER" },
        query,
      );
    }
  });

  it("refuses path traversal and odd keys with 400", () => {
    for (const path of [
      "/../secret.jpg",
      "/a/../../b.jpg",
      "/a/%2E%2E/b.jpg",
      "/a/./b.jpg",
      "/a//b.jpg",
      "/a/",
      "/a%00.jpg",
      "/a%0a.jpg",
      "/a%5Cb.jpg",
      "/a\\b.jpg",
      "/bad%zz.jpg",
      "/%E0%A4%A.jpg",
      `/${"x".repeat(1025)}`,
    ]) {
      assert.deepEqual(
        refusal(() => parseKey(path)),
        { status: 400, code: "BAD_KEY" },
        path,
      );
    }
    assert.equal(parseKey(`/${"x".repeat(1024)}`).length, 1024);
  });

  it("allows only the configured source prefixes", () => {
    checkPrefix("photos/a.jpg", []);
    checkPrefix("photos/a.jpg", ["media/", "photos/"]);
    assert.deepEqual(
      refusal(() => checkPrefix("private/a.jpg", ["photos/"])),
      { status: 403, code: "KEY_FORBIDDEN" },
    );
  });
});
