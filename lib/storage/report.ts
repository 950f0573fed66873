/**
 * One JSON line per decision, which is at once a structured log line and a CloudWatch embedded metric
 * format (EMF) document: CloudWatch Logs turns its `_aws` block into metrics (count, skipped by reason,
 * restore time, bytes) with no agent and no API call.
 */

export type DecisionAction = "written" | "would-write" | "skipped" | "deleted" | "ignored" | "failed";

export interface Decision {
  readonly action: DecisionAction;
  readonly bucket?: string;
  readonly key?: string;
  /** The event that asked, e.g. `ObjectCreated:Put`. */
  readonly event?: string;
  /** Why nothing was written (skips), or the error code (failures). */
  readonly reason?: string;
  readonly message?: string;
  readonly derivativeKey?: string;
  readonly quality?: number | null;
  readonly restoreMs?: number;
  readonly bytesRead?: number;
  readonly bytesWritten?: number;
  /** Wall time of the whole decision, S3 included. */
  readonly ms?: number;
  readonly retryable?: boolean;
  /** Anything else worth a field (the SQS message id, deleted keys). */
  readonly [extra: string]: unknown;
}

export const METRICS_NAMESPACE = "unjpeg";

/**
 * The line for one decision. Metrics: `Objects` by `Outcome`, and by `Outcome` and `Reason` (so skips
 * are counted by reason), `RestoreMs`, `BytesRead`, `BytesWritten`.
 */
export function decisionLine(decision: Decision, service: string, now = Date.now()): string {
  const metrics: { Name: string; Unit: string }[] = [{ Name: "Objects", Unit: "Count" }];
  const values: Record<string, number> = { Objects: 1 };
  const add = (name: string, unit: string, value: number | undefined) => {
    if (value === undefined || !Number.isFinite(value)) return;
    metrics.push({ Name: name, Unit: unit });
    values[name] = value;
  };
  add("RestoreMs", "Milliseconds", decision.restoreMs);
  add("BytesRead", "Bytes", decision.bytesRead);
  add("BytesWritten", "Bytes", decision.bytesWritten);
  const { action, reason, ...rest } = decision;
  return JSON.stringify({
    level: action === "failed" ? "error" : "info",
    msg: "decision",
    time: new Date(now).toISOString(),
    Service: service,
    Outcome: action,
    Reason: reason ?? "none",
    ...rest,
    ...values,
    _aws: {
      Timestamp: now,
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [
            ["Service", "Outcome"],
            ["Service", "Outcome", "Reason"],
          ],
          Metrics: metrics,
        },
      ],
    },
  });
}

/** Receives each line, and the decision it was made from (for sinks that print something else). */
export type LineSink = (line: string, decision: Decision) => void;

/** Writes whole lines to stdout (CloudWatch Logs reads each line as one event). */
export const stdoutSink: LineSink = (line) => {
  process.stdout.write(`${line}\n`);
};
