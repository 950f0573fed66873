/**
 * Model runs in turn over tiles, shared by CaVE (lib/model/cave.ts) and the generator
 * (lib/model/pipeline.ts): each run's input is cut out, the run started, its output used, in tile order.
 */

export interface InTurnOptions<I> {
  /**
   * Cut out run k+1's input while run k is in flight: only where runs happen elsewhere (the model
   * worker). Without it, one thing at a time.
   */
  readonly overlap: boolean;
  /** Run 0's input, already cut out. */
  readonly first?: I;
  /** With `overlap`: work for the caller once the last run has started, while it is in flight. */
  readonly whileLastRuns?: () => Promise<void>;
}

/**
 * Runs `count` model runs in order: `cut(k)` makes run k's input, `start(k, input)` starts it, and
 * `use(k, output)` takes its output, in order (with `overlap`, while run k+1 is in flight). Every run
 * has settled when this returns or throws, so no input buffer is reused while a run may still read it.
 */
export async function runInTurn<I, O>(
  count: number,
  cut: (k: number) => Promise<I>,
  start: (k: number, input: I) => Promise<O>,
  use: (k: number, output: O) => unknown,
  options: InTurnOptions<I>,
): Promise<void> {
  const { overlap } = options;
  const begin = (k: number, input: I): Promise<O> => {
    const job = start(k, input);
    job.catch(() => undefined); // awaited below; a failure must not count as unhandled meanwhile
    return job;
  };
  let job = begin(0, options.first ?? (await cut(0)));
  try {
    if (overlap && count === 1) await options.whileLastRuns?.();
    for (let k = 0; k < count; k++) {
      const next = overlap && k + 1 < count ? await cut(k + 1) : undefined;
      const output = await job;
      if (next !== undefined) {
        job = begin(k + 1, next);
        if (k + 2 === count) await options.whileLastRuns?.();
      }
      await use(k, output);
      if (!overlap && k + 1 < count) job = begin(k + 1, await cut(k + 1));
    }
  } finally {
    await job.catch(() => undefined);
  }
}
