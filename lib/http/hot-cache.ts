/**
 * Recently served derivatives kept in memory (a warm Lambda container, the local stack), bounded in bytes,
 * least recently used out first. An entry is used only after a HEAD of the source shows the same ETag and
 * the running model is the one that made it: a hit then costs one S3 request and no body transfer, and a
 * changed source is noticed exactly as without the cache. Only with `UNJPEG_REVALIDATE_SECONDS` set is an
 * entry checked within that many seconds served without a HEAD (a changed source may then be answered with
 * the previous derivative for up to that long).
 */
export interface HotEntry {
  readonly derivativeKey: string;
  readonly body: Uint8Array;
  /** The derivative's metadata: source ETag and model, checked by the store's staleness rule. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Clock ms when a look at the source that found this entry current began (the revalidation window). */
  checkedAtMs: number;
}

export interface HotCache {
  get(key: string): HotEntry | undefined;
  set(key: string, entry: HotEntry): void;
  delete(key: string): void;
  readonly bytes: () => number;
}

export function createHotCache(maxBytes: number, maxEntryBytes = Math.floor(maxBytes / 8)): HotCache {
  const entries = new Map<string, HotEntry>();
  let total = 0;
  const remove = (key: string): void => {
    const entry = entries.get(key);
    if (entry === undefined) return;
    entries.delete(key);
    total -= entry.body.byteLength;
  };
  return {
    get(key) {
      const entry = entries.get(key);
      if (entry !== undefined) {
        entries.delete(key); // re-inserted last: most recently used
        entries.set(key, entry);
      }
      return entry;
    },
    set(key, entry) {
      remove(key);
      if (entry.body.byteLength > maxEntryBytes) return;
      entries.set(key, entry);
      total += entry.body.byteLength;
      for (const [oldest] of entries) {
        if (total <= maxBytes) break;
        remove(oldest);
      }
    },
    delete: remove,
    bytes: () => total,
  };
}
