import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parseQuery } from "../../lib/http/route.js";
import { decodePathKey, verifySignature } from "../../lib/http/signing.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const sign = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ["--import", "tsx", "lib/cli/main.ts", "sign", ...args], {
    cwd: root,
    encoding: "utf8",
    env: { PATH: process.env["PATH"] ?? "", ...env },
  });

describe("unjpeg sign", () => {
  it("prints URLs the origin accepts, signed with the first configured key", () => {
    const result = sign(
      ["--expires-in", "1h", "https://cdn.example/photos/cat.jpg?format=webp", "/a b.jpg"],
      {
        UNJPEG_SIGNING_KEYS: "first,second",
      },
    );
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.trim().split("\n");
    assert.equal(lines.length, 2);
    assert.match(
      lines[0]!,
      /^https:\/\/cdn\.example\/photos\/cat\.jpg\?format=webp&expires=\d+&sig=[0-9a-f]{64}$/,
    );
    const now = Date.now() / 1000;
    for (const line of lines) {
      const url = new URL(line, "http://x.invalid");
      const query = parseQuery(url.search.slice(1));
      const expires = Number(query.find(([name]) => name === "expires")?.[1]);
      assert.ok(expires > now + 3500 && expires < now + 3700);
      verifySignature({ decodedKey: decodePathKey(url.pathname), query, keys: ["first"], now });
      assert.throws(() =>
        verifySignature({ decodedKey: decodePathKey(url.pathname), query, keys: ["second"], now }),
      );
    }
  });

  it("fails clearly without a key, and on bad usage", () => {
    const noKey = sign(["/a.jpg"]);
    assert.equal(noKey.status, 1);
    assert.match(noKey.stderr, /UNJPEG_SIGNING_KEYS/);
    assert.equal(sign([]).status, 2);
    assert.equal(sign(["--expires-in", "soon", "/a.jpg"], { UNJPEG_SIGNING_KEYS: "k" }).status, 2);
    const withKey = sign(["--key", "k", "--expires", "2000000000", "/a.jpg"]);
    assert.equal(withKey.status, 0);
    assert.match(withKey.stdout, /^\/a\.jpg\?expires=2000000000&sig=[0-9a-f]{64}\n$/);
  });
});
