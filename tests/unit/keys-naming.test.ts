import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  allDerivativeKeys,
  decodeEventKey,
  derivativeKey,
  EventKeyError,
  encodeEventKey,
  isDerivativeKey,
  keyTooLong,
  splitKey,
  uploadKeyTooLong,
} from "../../lib/storage/keys.js";

const naming = { derivativeSuffix: ".restored", derivativePrefix: "" };

test("derivative keys follow <prefix><dir>/<stem><suffix>.<ext>", () => {
  assert.equal(derivativeKey("photos/cat.jpg", "jpeg", naming), "photos/cat.restored.jpg");
  assert.equal(derivativeKey("a/b/cat.jpg", "jpeg", naming), "a/b/cat.restored.jpg");
  assert.equal(derivativeKey("photos/cat.jpg", "webp", naming), "photos/cat.restored.webp");
  assert.equal(derivativeKey("photos/cat.jpg", "png", naming), "photos/cat.restored.png");
  assert.equal(derivativeKey("photos/cat.jpg", "avif", naming), "photos/cat.restored.avif");
  assert.equal(derivativeKey("cat.jpg", "jpeg", naming), "cat.restored.jpg");
  assert.equal(derivativeKey("x/cat", "jpeg", naming), "x/cat.restored.jpg");
  assert.equal(derivativeKey("x/.hidden", "jpeg", naming), "x/.hidden.restored.jpg");
  assert.equal(derivativeKey("x.y/cat", "jpeg", naming), "x.y/cat.restored.jpg");
  assert.equal(derivativeKey("p/a.b.c.JPG", "jpeg", naming), "p/a.b.c.restored.JPG");
  assert.equal(
    derivativeKey("photos/cat.jpg", "jpeg", { derivativeSuffix: "", derivativePrefix: "restored/" }),
    "restored/photos/cat.jpg",
  );
});

test("a JPEG derivative keeps the source's JPEG extension, so cat.jpg and cat.jpeg do not collide", () => {
  assert.equal(derivativeKey("cat.jpeg", "jpeg", naming), "cat.restored.jpeg");
  assert.notEqual(derivativeKey("cat.jpeg", "jpeg", naming), derivativeKey("cat.jpg", "jpeg", naming));
  assert.equal(derivativeKey("cat.png", "jpeg", naming), "cat.restored.jpg");
});

test("allDerivativeKeys lists one key per format", () => {
  assert.deepEqual(allDerivativeKeys("p/cat.jpg", naming), [
    "p/cat.restored.jpg",
    "p/cat.restored.png",
    "p/cat.restored.webp",
    "p/cat.restored.avif",
  ]);
});

test("derivatives are recognised by key pattern, sources are not", () => {
  for (const key of [
    "photos/cat.restored.jpg",
    "cat.restored.webp",
    "a/cat.RESTORED.JPEG",
    "x.restored.avif",
  ]) {
    assert.equal(isDerivativeKey(key, naming), true, key);
  }
  for (const key of [
    "photos/cat.jpg",
    "restored.jpg",
    "cat.restored",
    "cat.restored.txt",
    "cat.restoredx.jpg",
  ]) {
    assert.equal(isDerivativeKey(key, naming), false, key);
  }
  const prefixOnly = { derivativeSuffix: "", derivativePrefix: "restored/" };
  assert.equal(isDerivativeKey("restored/photos/cat.jpg", prefixOnly), true);
  assert.equal(isDerivativeKey("photos/cat.jpg", prefixOnly), false);
});

test("every derivative key is recognised as one, for any source key and format", () => {
  fc.assert(
    fc.property(fc.string(), fc.constantFrom("jpeg", "png", "webp", "avif" as const), (source, format) => {
      assert.equal(isDerivativeKey(derivativeKey(source, format, naming), naming), true);
    }),
  );
});

test("splitKey", () => {
  assert.deepEqual(splitKey("a/b/c.d.jpg"), { dir: "a/b/", stem: "c.d", ext: "jpg" });
  assert.deepEqual(splitKey("noext"), { dir: "", stem: "noext", ext: "" });
});

test("event keys decode like S3 writes them: + is a space, %2B a plus, UTF-8 escapes", () => {
  assert.equal(decodeEventKey("photos/my+cat.jpg"), "photos/my cat.jpg");
  assert.equal(decodeEventKey("photos/c%2B%2B.jpg"), "photos/c++.jpg");
  assert.equal(decodeEventKey("fotos/K%C3%A4tzchen+%F0%9F%90%88.jpg"), "fotos/Kätzchen 🐈.jpg");
  assert.equal(decodeEventKey("a%3Db%26c.jpg"), "a=b&c.jpg");
  assert.equal(decodeEventKey("100%25.jpg"), "100%.jpg");
  assert.throws(() => decodeEventKey("bad%E0%A4%A.jpg"), EventKeyError);
});

test("encodeEventKey is the inverse of decodeEventKey and keeps slashes", () => {
  assert.equal(encodeEventKey("photos/my cat+1.jpg"), "photos/my+cat%2B1.jpg");
  fc.assert(
    fc.property(fc.string({ unit: "grapheme" }), (key) => {
      assert.equal(decodeEventKey(encodeEventKey(key)), key);
    }),
  );
});

test("keyTooLong counts UTF-8 bytes against S3's 1,024 (reliability case 9)", () => {
  assert.equal(keyTooLong("a".repeat(1024)), null);
  assert.match(keyTooLong("a".repeat(1025)) ?? "", /1025 bytes, over S3's limit of 1024/);
  assert.equal(keyTooLong("猫".repeat(341)), null); // 1,023 bytes
  assert.match(keyTooLong("猫".repeat(342)) ?? "", /1026 bytes/);
});

test("a store's own limit per path segment: the key and every derivative's key are checked (reliability case 8)", () => {
  const limits = { maxSegmentBytes: 233 };
  const naming = { derivativeSuffix: ".restored", derivativePrefix: "" };
  assert.equal(keyTooLong(`uploads/${"猫".repeat(76)}.jpg`, limits), null); // 232 bytes
  assert.match(keyTooLong(`uploads/${"猫".repeat(130)}.jpg`, limits) ?? "", /segment of 394 bytes.*233/);
  assert.equal(keyTooLong(`uploads/${"猫".repeat(130)}.jpg`), null, "S3 itself has no such limit");
  assert.match(uploadKeyTooLong(`uploads/${"猫".repeat(130)}.jpg`, naming, limits) ?? "", /^the key /);
  // The source fits, `<stem>.restored.webp` (242 bytes) does not.
  assert.match(
    uploadKeyTooLong(`uploads/${"猫".repeat(76)}.jpg`, naming, limits) ?? "",
    /^its derivative's key .*segment of 24\d bytes/,
  );
  assert.equal(uploadKeyTooLong(`uploads/${"猫".repeat(70)}.jpg`, naming, limits), null);
});
