/**
 * What every handler does around its core: build it once per cold start (and again on the next invocation
 * if building failed), and give the work a signal that fires a margin before Lambda's deadline.
 */

/** The value, or the result of `build` made on first use and shared; a failed build is retried next call. */
export function builtOnce<T extends object>(build: T | (() => Promise<T>)): () => Promise<T> {
  let ready: Promise<T> | undefined;
  return () => {
    ready ??= (typeof build === "function" ? (build as () => Promise<T>)() : Promise.resolve(build)).catch(
      (error: unknown) => {
        ready = undefined; // the next invocation tries again
        throw error;
      },
    );
    return ready;
  };
}

/** `signal` (middy's), also aborted `marginMs` before the invocation's deadline when Lambda tells it. */
export function invocationDeadline(
  context: { getRemainingTimeInMillis?: () => number },
  signal: AbortSignal,
  marginMs: number,
): AbortSignal {
  const remaining = context.getRemainingTimeInMillis?.();
  return remaining === undefined
    ? signal
    : AbortSignal.any([signal, AbortSignal.timeout(Math.max(0, remaining - marginMs))]);
}
