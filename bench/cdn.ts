/**
 * CDN-origin latency through the local HTTP adapter (the Lambda payload-2.0 path) on a real s3rver:
 *   hit   a stored, current derivative (no model run), N concurrent clients, repeated requests
 *   miss  first requests for distinct sources (restore-bound), N concurrent clients
 * Prints one table; any non-200 answer is counted as an error.
 *
 *   npx tsx bench/cdn.ts [--clients 20] [--hits 2000] [--misses 20] [--size 256x256] [--model DIR]
 */
import { parseArgs } from "node:util";
import { makeJpeg, startCdnStack, TEST_MODEL_DIR } from "../tests/integration/cdn-stack.js";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "20" },
    hits: { type: "string", default: "2000" },
    misses: { type: "string", default: "20" },
    size: { type: "string", default: "256x256" },
    model: { type: "string", default: TEST_MODEL_DIR },
    concurrency: { type: "string", default: "1" },
  },
});
const clients = Number(values.clients);
const [width, height] = values.size.split("x").map(Number) as [number, number];

interface Sample {
  ms: number;
  ok: boolean;
  action: string | null;
}

async function timedGet(url: string): Promise<Sample> {
  const start = performance.now();
  try {
    const response = await fetch(url);
    await response.arrayBuffer();
    return {
      ms: performance.now() - start,
      ok: response.status === 200,
      action: response.headers.get("x-unjpeg-action"),
    };
  } catch {
    return { ms: performance.now() - start, ok: false, action: null };
  }
}

/** `total` requests from `clients` concurrent loops; `urlFor(i)` names the i-th request. */
async function load(
  total: number,
  urlFor: (i: number) => string,
  clients: number,
): Promise<{ samples: Sample[]; wallMs: number; clients: number }> {
  const samples: Sample[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        const i = next++;
        samples.push(await timedGet(urlFor(i)));
      }
    }),
  );
  return { samples, wallMs: performance.now() - start, clients };
}

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

function row(
  name: string,
  { samples, wallMs, clients }: { samples: Sample[]; wallMs: number; clients: number },
): string[] {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const errors = samples.filter((s) => !s.ok).length;
  const actions = [...new Set(samples.map((s) => s.action ?? "error"))].join("+");
  return [
    name,
    String(samples.length),
    String(clients),
    quantile(ms, 0.5).toFixed(1),
    quantile(ms, 0.95).toFixed(1),
    quantile(ms, 0.99).toFixed(1),
    ms[ms.length - 1]!.toFixed(1),
    ((samples.length / wallMs) * 1000).toFixed(1),
    String(errors),
    actions,
  ];
}

const stack = await startCdnStack({
  env: { UNJPEG_MODEL_DIR: values.model, UNJPEG_THREADS: "" },
  concurrency: Number(values.concurrency),
  maxQueued: Math.max(64, clients * 2),
});
try {
  const misses = Number(values.misses);
  for (let i = 0; i < misses; i++)
    await stack.put(`bench/miss-${i}.jpg`, await makeJpeg(15, width, height, i + 1));
  await stack.put("bench/hit.jpg", await makeJpeg(15, width, height, 999));
  // Warm up: load the model and store the hit derivative.
  const warm = await timedGet(`${stack.url}/bench/hit.jpg`);
  if (!warm.ok) throw new Error("warm-up request failed");

  const miss = await load(misses, (i) => `${stack.url}/bench/miss-${i}.jpg`, clients);
  const hitUrl = `${stack.url}/bench/hit.jpg`;
  const single = await load(Math.min(200, Number(values.hits)), () => hitUrl, 1);
  const hit = await load(Number(values.hits), () => hitUrl, clients);
  const header = [
    "path",
    "requests",
    "clients",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "req/s",
    "errors",
    "served as",
  ];
  const rows = [
    header,
    row("hit (stored derivative)", single),
    row("hit (stored derivative)", hit),
    row(`miss (restore ${width}x${height})`, miss),
  ];
  const widths = header.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  console.log(
    `CDN origin, local adapter + s3rver, model ${values.model}, restores at once: ${values.concurrency}`,
  );
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join("  "));
  console.log(`model runs: ${stack.restores()} (expected ${misses + 1}: one per distinct source)`);
} finally {
  await stack.close();
}
