/** The origin's upfront decision over an in-memory store whose triage and restore time the test sets. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "../../lib/config.js";
import { createOrigin } from "../../lib/http/origin.js";
import type { OriginDerive, OriginStore, StoredObject } from "../../lib/http/types.js";
import type { TriageDecision } from "../../lib/restore/types.js";

const MODEL = "test@1";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sources `a.jpg`, `b.jpg`, ... with the given triage; each restore takes `restoreMs`. */
function fakeStore(triage: (key: string) => Promise<TriageDecision | null>, restoreMs: number) {
  const objects = new Map<string, StoredObject>();
  const derives: string[] = [];
  const object = (key: string, metadata: Record<string, string> = {}): StoredObject => ({
    key,
    eTag: `"${key}"`,
    versionId: undefined,
    size: 10,
    contentType: "image/jpeg",
    metadata,
    read: async () => new Uint8Array([1, 2, 3]),
    discard: () => {},
  });
  const derivativeKey = (key: string) => `${key}.restored`;
  const store: OriginStore = {
    headSource: async (key) => (key.endsWith(".jpg") ? object(key) : null),
    getDerivative: async (key) => objects.get(derivativeKey(key)) ?? null,
    getObject: async (key) => (key.endsWith(".jpg") ? object(key) : null),
    isDerivativeKey: (key) => key.endsWith(".restored"),
    isCurrent: (d, s) => d.metadata["unjpeg-source-etag"] === s.eTag,
    triage: async (source) => {
      const decision = await triage(source.key);
      return decision === null ? null : { eTag: source.eTag, input: new Uint8Array(0), decision };
    },
    async derive({ key, signal }): Promise<OriginDerive> {
      derives.push(key);
      await sleep(restoreMs);
      signal.throwIfAborted();
      const metadata = { "unjpeg-derivative": "1", "unjpeg-source-etag": `"${key}"`, "unjpeg-model": MODEL };
      objects.set(derivativeKey(key), object(derivativeKey(key), metadata));
      return {
        action: "restored",
        derivativeKey: derivativeKey(key),
        body: new Uint8Array([9]),
        contentType: "image/jpeg",
        metadata,
      };
    },
  };
  return { store, derives };
}

const restoreOf = (megapixels: number): TriageDecision => ({
  action: "restore",
  quality: 20,
  width: 1000,
  height: megapixels * 1000,
});
const modelStatus = async () => ({ loaded: true, model: MODEL, id: "test", version: "1" });
const get = (path: string, budgetMs: number) => ({
  method: "GET",
  path,
  query: "",
  headers: {},
  answerBy: Date.now() + budgetMs,
});

describe("origin: restores judged upfront", () => {
  it("learns its speed from a completed restore: a size that fitted at the seeded rate is then handed off at once", async () => {
    const { store, derives } = fakeStore(async () => restoreOf(4), 200);
    const pendings: { key: string; estimatedMs?: number }[] = [];
    const origin = createOrigin({
      config: loadConfig({}),
      store,
      modelStatus,
      // Seeded far too fast: 4 MP estimated at 4 ms, so the first restore is started and measured (~200 ms).
      restoreRate: { fixedMs: 0, msPerMegapixel: 1 },
      onPending: (pending) => pendings.push(pending),
    });
    const first = await origin(get("/a.jpg", 5_000));
    assert.equal(first.headers["x-unjpeg-action"], "restored");
    // Learnt: about 0.3 × 50 ms/MP, so 4 MP ≈ 60 ms, × 1.5 over an 80 ms budget.
    const started = performance.now();
    const second = await origin(get("/b.jpg", 80));
    assert.equal(second.headers["x-unjpeg-action"], "pending");
    assert.equal(second.headers["x-unjpeg-pending"], "not-queued");
    assert.ok(performance.now() - started < 80, "answered without waiting");
    assert.deepEqual(derives, ["a.jpg"], "the second restore was never started");
    assert.equal(pendings.length, 1);
    assert.ok(
      (pendings[0]!.estimatedMs ?? 0) > 40,
      `estimate ${pendings[0]!.estimatedMs} reflects the measured restore`,
    );
  });

  it("no answer from the triage (an error, or no restore would run): the restore is started as before", async () => {
    for (const triage of [
      async () => {
        throw new Error("ranged GET failed");
      },
      async () => null,
      async (): Promise<TriageDecision> => ({
        action: "skip",
        reason: "high-quality",
        message: "q95",
        quality: 95,
      }),
    ]) {
      const { store, derives } = fakeStore(triage, 1);
      const origin = createOrigin({ config: loadConfig({}), store, modelStatus, onPending: () => {} });
      const answer = await origin(get("/a.jpg", 5_000));
      assert.equal(answer.headers["x-unjpeg-action"], "restored");
      assert.deepEqual(derives, ["a.jpg"]);
    }
  });

  it("without a deadline there is no triage and no estimate: the restore always starts", async () => {
    let triaged = 0;
    const { store, derives } = fakeStore(async () => {
      triaged += 1;
      return restoreOf(1_000);
    }, 1);
    const origin = createOrigin({ config: loadConfig({}), store, modelStatus });
    const answer = await origin({ method: "GET", path: "/a.jpg", query: "", headers: {} });
    assert.equal(answer.headers["x-unjpeg-action"], "restored");
    assert.deepEqual(derives, ["a.jpg"]);
    assert.equal(triaged, 0);
  });
});
