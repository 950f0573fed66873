/**
 * Fuzzing decodeCoefficients with a fixed seed: truncations, bit flips, byte insertions and deletions,
 * bogus DHT/SOS/SOF/DRI parameters, spliced scan data, stray markers, over the seed files. Every case
 * decodes or throws a JpegError, never anything else and never slowly (bench/coefficients-fuzz.ts runs
 * a million such cases).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fuzzCase, fuzzSeeds, MUTATIONS, outcomeOf } from "./jpeg-fuzz-cases.js";

const CASES = 4000;
const SEED = 15;
// The seeds are at most a few KB: a case takes well under a millisecond; only a loop would take a second.
const MAX_MS_PER_CASE = 1000;

test(`${CASES} fuzz cases: decoded or a JpegError, each in under ${MAX_MS_PER_CASE} ms`, {
  timeout: 120_000,
}, () => {
  const seeds = fuzzSeeds();
  for (const { name, bytes } of seeds) assert.equal(outcomeOf(bytes), "decoded", `seed ${name}`);
  const outcomes = new Map<string, number>();
  const mutations = new Set<string>();
  for (let i = 0; i < CASES; i++) {
    const { seed, mutation, bytes } = fuzzCase(seeds, SEED, i);
    mutations.add(mutation);
    const started = performance.now();
    let outcome: string;
    try {
      outcome = outcomeOf(bytes);
    } catch (error) {
      assert.fail(`case ${i} (${mutation} of ${seed}) threw ${(error as Error).stack}`);
    }
    const ms = performance.now() - started;
    assert.ok(ms < MAX_MS_PER_CASE, `case ${i} (${mutation} of ${seed}) took ${ms} ms`);
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  // Not vacuous: every kind of mutation ran, some cases still decode, and many different codes came out.
  assert.equal(mutations.size, MUTATIONS.length);
  assert.ok((outcomes.get("decoded") ?? 0) > CASES / 20, JSON.stringify([...outcomes]));
  const codes = [...outcomes.keys()].filter((o) => o !== "decoded");
  for (const code of [
    "JPEG_BAD_HUFFMAN_CODE",
    "JPEG_SCAN_TOO_SHORT",
    "JPEG_TRUNCATED",
    "JPEG_BAD_PROGRESSION",
  ]) {
    assert.ok(codes.includes(code), `${code} in ${JSON.stringify([...outcomes])}`);
  }
  assert.ok(codes.length >= 12, JSON.stringify([...outcomes]));
});
