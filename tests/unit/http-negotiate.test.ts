import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { matchesIfNoneMatch, representationEtag } from "../../lib/http/headers.js";
import { negotiateFormat } from "../../lib/http/negotiate.js";

describe("format=auto negotiation", () => {
  it("follows what browsers send", () => {
    const chrome = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8";
    const safari16 =
      "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5";
    const firefoxOld = "image/webp,*/*";
    assert.equal(negotiateFormat(chrome), "avif");
    assert.equal(negotiateFormat(safari16), "avif");
    assert.equal(negotiateFormat(firefoxOld), "webp");
    assert.equal(negotiateFormat("*/*"), "jpeg");
    assert.equal(negotiateFormat("image/*"), "jpeg");
    assert.equal(negotiateFormat(undefined), "jpeg");
    assert.equal(negotiateFormat(""), "jpeg");
  });

  it("honours q-values, including q=0 refusals", () => {
    assert.equal(negotiateFormat("image/avif;q=0.5,image/webp;q=0.9,image/jpeg;q=0.6"), "webp");
    assert.equal(negotiateFormat("image/avif;q=0,image/webp"), "webp");
    assert.equal(negotiateFormat("image/jpeg,image/webp;q=0.4"), "jpeg");
    assert.equal(negotiateFormat("image/avif;q=junk, image/webp"), "webp");
  });
});

describe("ETag and If-None-Match", () => {
  it("is stable per representation and differs between them", () => {
    const a = representationEtag(["derivative", '"abc"', "webp", undefined]);
    assert.equal(a, representationEtag(["derivative", '"abc"', "webp", undefined]));
    assert.notEqual(a, representationEtag(["derivative", '"abc"', "jpeg", undefined]));
    assert.notEqual(a, representationEtag(["derivative", '"abd"', "webp", undefined]));
    assert.notEqual(a, representationEtag(["derivative", '"abc"', "webp", 80]));
    assert.match(a, /^"[A-Za-z0-9_-]{27}"$/);
  });

  it("matches lists, weak tags and *", () => {
    const tag = '"xyz"';
    assert.equal(matchesIfNoneMatch(undefined, tag), false);
    assert.equal(matchesIfNoneMatch('"xyz"', tag), true);
    assert.equal(matchesIfNoneMatch('"a", W/"xyz"', tag), true);
    assert.equal(matchesIfNoneMatch("*", tag), true);
    assert.equal(matchesIfNoneMatch('"xy"', tag), false);
  });
});
