import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { HttpError } from "../../lib/http/errors.js";
import { parseQuery } from "../../lib/http/route.js";
import { decodePathKey, signature, signUrl, stringToSign, verifySignature } from "../../lib/http/signing.js";

const verifyUrl = (url: string, keys: string[], now = 1_000): void => {
  const parsed = new URL(url, "http://x.invalid");
  verifySignature({
    decodedKey: decodePathKey(parsed.pathname),
    query: parseQuery(parsed.search.slice(1)),
    keys,
    now,
  });
};

const codeOf = (fn: () => void): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 403);
    return error.code;
  }
};

describe("signing", () => {
  it("matches an independently computed HMAC-SHA256 over path and sorted query", () => {
    // echo -n '/photos/cat.jpg?format=webp&quality=80' | openssl dgst -sha256 -hmac secret
    assert.equal(
      stringToSign("photos/cat.jpg", [
        ["quality", "80"],
        ["format", "webp"],
      ]),
      "/photos/cat.jpg?format=webp&quality=80",
    );
    assert.equal(
      signature("secret", "photos/cat.jpg", [
        ["quality", "80"],
        ["format", "webp"],
        ["sig", "ignored"],
      ]),
      "794cbc940f851041df69e856c47cb369bcf7893d8e9c6de706bce6e25bdfdd99",
    );
  });

  it("accepts what it signed, in any parameter order and path encoding", () => {
    const signed = signUrl("https://cdn.example/photos/a%20cat.jpg?quality=80&format=webp", { key: "k1" });
    assert.match(
      signed,
      /^https:\/\/cdn\.example\/photos\/a%20cat\.jpg\?quality=80&format=webp&sig=[0-9a-f]{64}$/,
    );
    verifyUrl(signed, ["k1"]);
    const sig = new URL(signed).searchParams.get("sig");
    verifyUrl(`/photos/a cat.jpg?sig=${sig}&format=webp&quality=80`, ["k1"]);
  });

  it("refuses missing, malformed, tampered and wrong-key signatures", () => {
    const signed = signUrl("/photos/cat.jpg?format=webp", { key: "k1" });
    assert.equal(
      codeOf(() => verifyUrl("/photos/cat.jpg?format=webp", ["k1"])),
      "SIGNATURE_MISSING",
    );
    assert.equal(
      codeOf(() => verifyUrl("/photos/cat.jpg?format=webp&sig=zz", ["k1"])),
      "SIGNATURE_INVALID",
    );
    assert.equal(
      codeOf(() => verifyUrl(signed.replace("webp", "avif"), ["k1"])),
      "SIGNATURE_INVALID",
    );
    assert.equal(
      codeOf(() => verifyUrl(signed.replace("cat", "dog"), ["k1"])),
      "SIGNATURE_INVALID",
    );
    assert.equal(
      codeOf(() => verifyUrl(signed, ["k2"])),
      "SIGNATURE_INVALID",
    );
    assert.equal(
      codeOf(() => verifyUrl(`${signed}&quality=5`, ["k1"])),
      "SIGNATURE_INVALID",
    );
  });

  it("rotates keys: the first signs, every configured key verifies", () => {
    const old = signUrl("/a.jpg", { key: "old" });
    const fresh = signUrl("/a.jpg", { key: "new" });
    verifyUrl(old, ["new", "old"]);
    verifyUrl(fresh, ["new", "old"]);
    assert.equal(
      codeOf(() => verifyUrl(old, ["new"])),
      "SIGNATURE_INVALID",
    );
  });

  it("enforces expiry, which the signature covers", () => {
    const signed = signUrl("/a.jpg", { key: "k", expires: 2_000 });
    assert.match(signed, /expires=2000&sig=/);
    verifyUrl(signed, ["k"], 1_999);
    verifyUrl(signed, ["k"], 2_000);
    assert.equal(
      codeOf(() => verifyUrl(signed, ["k"], 2_001)),
      "SIGNATURE_EXPIRED",
    );
    assert.equal(
      codeOf(() => verifyUrl(signed.replace("expires=2000", "expires=9999"), ["k"], 2_001)),
      "SIGNATURE_INVALID",
    );
  });

  it("accepts everything when no keys are configured", () => {
    verifyUrl("/a.jpg", []);
    verifyUrl("/a.jpg?sig=nonsense", []);
  });

  it("round-trips any key and parameter values (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !/[/]/.test(s) && s !== "." && s !== ".."),
          {
            minLength: 1,
            maxLength: 4,
          },
        ),
        fc.string({ maxLength: 10 }),
        (segments, value) => {
          const path = `/${segments.map(encodeURIComponent).join("/")}`;
          const signed = signUrl(`${path}?format=${encodeURIComponent(value)}`, { key: "k" });
          verifyUrl(signed, ["k"]);
          return true;
        },
      ),
      { numRuns: 200 },
    );
  });
});
