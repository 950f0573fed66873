/**
 * The search behind `--quality auto`, as pure logic over a probe function (lib/image/choose-encoding.ts
 * probes with real encodes of a sample of the image; unit tests with a fake). A ladder is a list of
 * settings in order of fidelity: along it the error falls and the bytes rise. The answer is the setting
 * with the fewest bytes whose error is within the allowance, over all ladders (JPEG: one per chroma
 * subsampling), found with a bounded number of probes: bisection, sped up by interpolating the logarithm of
 * the error between probes (an encoder's error is close to a power of its step size).
 */

export interface Probe {
  /** Encoded size (of the sample the probe encodes). */
  readonly bytes: number;
  /** The encoding's error against the pixels it encodes, in the rule's metric. */
  readonly error: number;
}

export type ProbeFunction<S> = (setting: S) => Promise<Probe>;

export interface SearchOutcome<S> {
  readonly setting: S;
  /** The chosen setting's probe; undefined when nothing met the allowance and the best rung was not probed. */
  readonly probe: Probe | undefined;
  /** Whether the chosen setting's error was measured within the allowance. */
  readonly met: boolean;
  /** Probes spent, all ladders together. */
  readonly probes: number;
}

export interface SearchOptions<S> {
  /** Probes per ladder at most (default 3: 8 rungs are told apart by bisection alone). */
  readonly maxProbesPerLadder?: number;
  /** Rung of the first ladder probed first (default its middle); later ladders start at the last's answer. */
  readonly start?: number;
  /**
   * Where a setting sits on its ladder for interpolation, rising along it (default: its rung number): the
   * closer the logarithm of the error is to a straight line in it, the fewer probes a search needs.
   */
  readonly position?: (setting: S) => number;
}

/**
 * Probes a search may add, on the one ladder that came closest, when no ladder met the allowance within
 * its own probes (an allowance near a ladder's floor, such as 4:2:0's chroma error, bends the error away
 * from the line the search interpolates along).
 */
export const RESCUE_PROBES = 2;

/**
 * The setting with the fewest bytes whose error is at most `allowed`, over `ladders` (each ordered by
 * fidelity). When no probed setting meets it, the most faithful rung of the ladder whose probes came
 * closest (not met: the best the encoder offers).
 */
export async function searchLadders<S>(
  ladders: readonly (readonly S[])[],
  allowed: number,
  probe: ProbeFunction<S>,
  options: SearchOptions<S> = {},
): Promise<SearchOutcome<S>> {
  if (ladders.length === 0 || ladders.some((ladder) => ladder.length === 0))
    throw new RangeError("every ladder needs a rung");
  const maxProbes = options.maxProbesPerLadder ?? 3;
  let probes = 0;
  const states = ladders.map((ladder) => ({
    ladder,
    positions: ladder.map((setting, i) => options.position?.(setting) ?? i),
    probed: new Map<number, Probe>(),
    counted: (async (index) => {
      probes++;
      return probe(ladder[index]!);
    }) as ProbeFunction<number>,
  }));
  let best: { setting: S; probe: Probe } | undefined;
  const consider = (state: (typeof states)[number], index: number) => {
    if (index < 0) return;
    const found = state.probed.get(index)!;
    if (best === undefined || found.bytes < best.probe.bytes)
      best = { setting: state.ladder[index]!, probe: found };
  };
  let start = options.start ?? Math.floor((ladders[0]!.length - 1) / 2);
  for (const state of states) {
    const index = await searchLadder(state.positions, allowed, state.counted, maxProbes, start, {
      probed: state.probed,
      beatBytes: best?.probe.bytes,
    });
    consider(state, index);
    // The next ladder (the same steps, another chroma subsampling) starts where this one's answer was.
    start = index >= 0 ? index : Math.floor((state.ladder.length - 1) / 2);
  }
  type State = (typeof states)[number];
  const lowest = (state: State) => Math.min(...[...state.probed.values()].map((p) => p.error));
  const topError = (state: State) => state.probed.get(state.ladder.length - 1)?.error;
  if (best === undefined) {
    // Nothing met: a few more probes on the ladder that came closest and still has rungs to try.
    const open = states.filter((state) => topError(state) === undefined);
    if (open.length > 0) {
      const rescue = open.reduce((a, b) => (lowest(b) < lowest(a) ? b : a));
      const index = await searchLadder(
        rescue.positions,
        allowed,
        rescue.counted,
        rescue.probed.size + RESCUE_PROBES,
        rescue.ladder.length - 1,
        { probed: rescue.probed },
      );
      consider(rescue, index);
    }
  }
  if (best !== undefined) return { setting: best.setting, probe: best.probe, met: true, probes };
  // The most faithful rung of the ladder that came closest: the best the encoder offers.
  const closest = states.reduce((a, b) => ((topError(b) ?? lowest(b)) < (topError(a) ?? lowest(a)) ? b : a));
  const top = closest.ladder.length - 1;
  return { setting: closest.ladder[top]!, probe: closest.probed.get(top), met: false, probes };
}

/**
 * One ladder of rungs at `positions` (rising): the lowest rung with error ≤ `allowed` (its index, or -1),
 * probing until the ladder has `maxProbes` probes. `probed` carries the ladder's probes across calls, so a
 * search can resume. Stops early when a rung that fails already costs `beatBytes` or more (every rung that
 * meets the allowance above it costs more still, so this ladder cannot win).
 */
export async function searchLadder(
  positions: readonly number[],
  allowed: number,
  probe: ProbeFunction<number>,
  maxProbes: number,
  start: number,
  state: { probed?: Map<number, Probe>; beatBytes?: number | undefined } = {},
): Promise<number> {
  const count = positions.length;
  const probed = state.probed ?? new Map<number, Probe>();
  const beatBytes = state.beatBytes ?? Number.POSITIVE_INFINITY;
  let fails = -1; // highest rung known to fail
  let meets = count; // lowest rung known to meet
  for (const [index, result] of probed) {
    if (result.error <= allowed) meets = Math.min(meets, index);
    else fails = Math.max(fails, index);
  }
  let next = probed.size === 0 ? Math.min(Math.max(0, start), count - 1) : -1;
  while (probed.size < maxProbes && meets - fails > 1) {
    if (next < 0) next = nextRung(positions, probed, allowed, fails, meets);
    const result = await probe(next);
    probed.set(next, result);
    if (result.error <= allowed) meets = next;
    else {
      fails = next;
      if (result.bytes >= beatBytes) break;
    }
    next = -1;
  }
  return meets < count ? meets : -1;
}

/**
 * The next rung to probe, strictly between `fails` and `meets`: where the logarithm of the error,
 * interpolated (or extrapolated) through the two probes nearest the allowance, reaches it; the middle of
 * the interval when there is one probe only or the errors give no slope.
 */
export function nextRung(
  positions: readonly number[],
  probed: ReadonlyMap<number, Probe>,
  allowed: number,
  fails: number,
  meets: number,
): number {
  const low = fails + 1;
  const high = meets - 1;
  // The two probes that bracket the allowance when there are both; else the two nearest it.
  const bracket = [probed.get(fails), probed.get(meets)];
  const points: [number, Probe][] =
    bracket[0] !== undefined && bracket[1] !== undefined
      ? [
          [fails, bracket[0]],
          [meets, bracket[1]],
        ]
      : [...probed.entries()]
          .filter(([, p]) => p.error > 0)
          .sort((a, b) => Math.abs(Math.log(a[1].error / allowed)) - Math.abs(Math.log(b[1].error / allowed)))
          .slice(0, 2);
  let guess = Math.floor((low + high) / 2);
  if (points.length === 2 && allowed > 0) {
    const [[i1, p1], [i2, p2]] = points as [[number, Probe], [number, Probe]];
    const x1 = positions[i1]!;
    const slope = (Math.log(p2.error) - Math.log(p1.error)) / (positions[i2]! - x1);
    // Errors fall along a ladder: a slope that is not negative says nothing about where the allowance is.
    if (slope < 0) {
      const x = x1 + (Math.log(allowed) - Math.log(p1.error)) / slope;
      // The first rung at or past the point where the line reaches the allowance.
      const at = positions.findIndex((p) => p >= x - 1e-9);
      guess = at === -1 ? high : at;
    }
  }
  return Math.min(Math.max(guess, low), high);
}
