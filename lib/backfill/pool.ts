/**
 * Bounded concurrency over a (possibly endless) async source: at most `limit` calls run at once, and the
 * source is pulled only when a slot frees up, so a million-key listing is never held in memory. However
 * it ends (done, aborted, a failing source or call), it returns only once every started call has settled.
 */
export async function forEachConcurrent<T>(
  source: AsyncIterable<T> | Iterable<T>,
  limit: number,
  fn: (item: T) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be >= 1, got ${limit}`);
  const running = new Set<Promise<void>>();
  let firstError: { error: unknown } | null = null;
  try {
    for await (const item of source) {
      if (signal?.aborted || firstError !== null) break;
      const task: Promise<void> = fn(item).then(
        () => {
          running.delete(task);
        },
        (error: unknown) => {
          running.delete(task);
          firstError ??= { error };
        },
      );
      running.add(task);
      if (running.size >= limit) await Promise.race(running);
    }
  } finally {
    await Promise.all(running);
  }
  if (firstError !== null) throw (firstError as { error: unknown }).error;
}
