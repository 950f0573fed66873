/**
 * `--quality auto`'s rule and search as pure logic: a fake encoder whose error and bytes follow a step
 * size the way a JPEG's do, so every answer can be checked against the exhaustive one.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  allowedError,
  ladderPosition,
  laddersFor,
  MIN_ALLOWED_ERROR,
  samplePixels,
} from "../../lib/image/choose-encoding.js";
import {
  describeSetting,
  type EncoderSetting,
  fixedSetting,
  flatQualities,
  flatStep,
  jpegOptions,
  parseSetting,
} from "../../lib/image/encoder-setting.js";
import { type Probe, RESCUE_PROBES, searchLadder, searchLadders } from "../../lib/image/quality-search.js";

/** A fake JPEG: error ∝ step^1.8 plus a floor for 4:2:0's chroma, bytes falling with the step. */
function fakeEncoder(scale: number, floor420: number) {
  const calls: EncoderSetting[] = [];
  const probe = async (s: EncoderSetting): Promise<Probe> => {
    calls.push(s);
    const step = flatStep(s.quality!);
    const sub = s.chroma === "4:2:0";
    return {
      error: scale * step ** 1.8 + (sub ? floor420 : 0.2),
      bytes: Math.round((sub ? 60_000 : 90_000) / step ** 0.9),
    };
  };
  return { probe, calls };
}

async function exhaustive(
  ladders: EncoderSetting[][],
  allowed: number,
  probe: (s: EncoderSetting) => Promise<Probe>,
) {
  let best: { setting: EncoderSetting; bytes: number } | undefined;
  for (const ladder of ladders)
    for (const setting of ladder) {
      const p = await probe(setting);
      if (p.error <= allowed && (best === undefined || p.bytes < best.bytes))
        best = { setting, bytes: p.bytes };
    }
  return best;
}

describe("the rule", () => {
  test("the allowance is (1 − keep) of the restoration's change over the model's error transfer, at least the floor", () => {
    assert.ok(Math.abs(allowedError(40, 0.9) - 4) < 1e-9);
    assert.ok(Math.abs(allowedError(40, 0.9, 0.5) - 8) < 1e-9);
    assert.equal(allowedError(40, 1), MIN_ALLOWED_ERROR, "keeping everything still allows rounding");
    assert.equal(
      allowedError(0.1, 0.9),
      MIN_ALLOWED_ERROR,
      "a restoration that changed nothing is not stored losslessly",
    );
    assert.equal(allowedError(40, 0), 40, "keeping nothing allows the change itself");
  });

  test("flat-table steps follow libjpeg's scaling, and the ladder has one quality per step", () => {
    assert.deepEqual([50, 75, 87, 90, 94, 97, 100].map(flatStep), [16, 8, 4, 3, 2, 1, 1]);
    const qualities = flatQualities(50);
    assert.equal(qualities.length, 16);
    assert.deepEqual(
      qualities.map(flatStep),
      Array.from({ length: 16 }, (_, i) => 16 - i),
    );
    const [sub, full] = laddersFor("jpeg", false);
    assert.deepEqual(
      [sub![0], full!.at(-1)].map((s) => describeSetting(s!)),
      ["jpeg q50 4:2:0 flat prog", "jpeg q96 4:4:4 flat prog"],
    );
    assert.equal(laddersFor("jpeg", true).length, 1, "a grey JPEG has no chroma to subsample");
    assert.equal(describeSetting(laddersFor("jpeg", true)[0]![0]!), "jpeg q50 flat prog", "nor records one");
    // The sample: the whole of a small image, a 48th of a large one, bounded both ways.
    assert.deepEqual(
      [0.3e6, 6.3e6, 12e6, 48e6].map((pixels) => samplePixels(pixels)),
      [131_072, 131_250, 250_000, 524_288],
    );
    // Positions rise along every ladder (the search interpolates in them).
    for (const format of ["jpeg", "webp", "avif"] as const)
      for (const ladder of laddersFor(format, false)) {
        const positions = ladder.map(ladderPosition);
        assert.ok(
          positions.every((p, i) => i === 0 || p > positions[i - 1]!),
          format,
        );
      }
  });

  test("settings read back from their compact form, forced qualities use the standard tables", () => {
    for (const text of [
      "jpeg q87 4:2:0 flat prog",
      "jpeg q87 4:2:0 flat",
      "jpeg q68 4:2:0 flat prog trellis",
      "jpeg q90 4:4:4",
      "webp q82 e2",
      "avif q58 4:2:0 e0",
      "png",
    ])
      assert.equal(describeSetting(parseSetting(text)!), text);
    assert.equal(parseSetting("gif q3"), undefined);
    assert.equal(describeSetting(fixedSetting("jpeg", 90)), "jpeg q90 4:4:4");
    assert.equal(describeSetting(fixedSetting("jpeg")), "jpeg q95 4:4:4");
    assert.equal(jpegOptions(parseSetting("jpeg q68 4:2:0 flat prog trellis")!).trellisQuantisation, true);
    assert.equal(jpegOptions(parseSetting("jpeg q68 4:2:0 flat prog")!).trellisQuantisation, undefined);
  });

  test("UNJPEG_TRELLIS puts trellis quantisation on every JPEG rung, and only there", () => {
    for (const ladder of laddersFor("jpeg", false, true))
      assert.ok(ladder.every((s) => s.trellis === true && describeSetting(s).endsWith(" prog trellis")));
    assert.ok(
      laddersFor("jpeg", false)
        .flat()
        .every((s) => s.trellis === undefined),
    );
    assert.ok(
      laddersFor("webp", false, true)
        .flat()
        .every((s) => s.trellis === undefined),
    );
  });
});

describe("the search", () => {
  test("meets the allowance whenever a rung does, with at most 3 probes a ladder and 2 to rescue", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: 0.01, max: 0.5, noNaN: true }),
        fc.double({ min: 0.3, max: 3, noNaN: true }),
        fc.double({ min: 0.5, max: 40, noNaN: true }),
        async (scale, floor, allowed) => {
          const ladders = laddersFor("jpeg", false);
          const { probe, calls } = fakeEncoder(scale, floor);
          const got = await searchLadders(ladders, allowed, probe, { position: ladderPosition });
          const want = await exhaustive(ladders, allowed, fakeEncoder(scale, floor).probe);
          assert.ok(calls.length <= 6 + RESCUE_PROBES, `${calls.length} probes`);
          assert.equal(got.probes, calls.length);
          if (want === undefined) {
            assert.equal(got.met, false);
            assert.equal(describeSetting(got.setting), "jpeg q96 4:4:4 flat prog", "the most faithful rung");
            return;
          }
          assert.ok(got.met);
          assert.ok(got.probe!.error <= allowed, "what is chosen meets the allowance");
          // Three probes cannot always pin 16 rungs (the sweep below measures how close they get on average).
          assert.ok(
            got.probe!.bytes <= want.bytes * 1.6,
            `${describeSetting(got.setting)} against ${describeSetting(want.setting)}`,
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  test("on average over a sweep of encoders and allowances, within 5 % of the fewest bytes", async () => {
    let excess = 0;
    let cases = 0;
    for (const scale of [0.02, 0.05, 0.1, 0.2, 0.4])
      for (const floor of [0.4, 0.8, 1.5, 2.5])
        for (const allowed of [0.6, 1, 1.5, 2, 3, 5, 8, 13, 20, 30]) {
          const ladders = laddersFor("jpeg", false);
          const got = await searchLadders(ladders, allowed, fakeEncoder(scale, floor).probe, {
            position: ladderPosition,
          });
          const want = await exhaustive(ladders, allowed, fakeEncoder(scale, floor).probe);
          if (want === undefined || got.probe === undefined) continue;
          excess += got.probe.bytes / want.bytes - 1;
          cases++;
        }
    assert.ok(cases > 150);
    assert.ok(excess / cases <= 0.05, `${((100 * excess) / cases).toFixed(1)} % more bytes on average`);
  });

  test("a chroma floor above the allowance sends the choice to 4:4:4", async () => {
    const { probe } = fakeEncoder(0.1, 5);
    const got = await searchLadders(laddersFor("jpeg", false), 2, probe, { position: ladderPosition });
    assert.equal(got.setting.chroma, "4:4:4");
    assert.ok(got.met && got.probe!.error <= 2);
  });

  test("a ladder stops once a failing rung already costs more than the best answer so far", async () => {
    const probes: number[] = [];
    const result = await searchLadder(
      [0, 1, 2, 3, 4, 5, 6, 7],
      1,
      async (i) => {
        probes.push(i);
        return { error: 10 - i, bytes: 1000 * (i + 1) };
      },
      3,
      3,
      { beatBytes: 500 },
    );
    assert.deepEqual(probes, [3], "rung 3 fails and costs 4000 > 500: nothing above it can win");
    assert.equal(result, -1);
  });

  test("errors that do not fall along the ladder still end in a rung that meets the allowance", async () => {
    const errors = [9, 9, 9, 2, 9, 1, 1, 1];
    const result = await searchLadder(
      errors.map((_, i) => i),
      1.5,
      async (i) => ({ error: errors[i]!, bytes: i }),
      8,
      0,
    );
    assert.ok(result >= 0 && errors[result]! <= 1.5);
  });
});
