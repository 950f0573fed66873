/**
 * An in-memory fake of the SQS client's `send` (no SQS-compatible server can be installed here): receive
 * with visibility timeouts and long-poll waits, receive counts, change visibility, delete, batch send,
 * and a redrive policy that moves a message to a dead-letter list after `maxReceiveCount` receives.
 * Receipt handles change on every receive, as in SQS, so a stale handle cannot delete a redelivery.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";

interface Stored {
  id: string;
  body: string;
  visibleAt: number;
  receiveCount: number;
  receipt: string | null;
}

export interface FakeSqs {
  /** The SDK client's own `send` type, so the worker takes the fake as it takes an SQSClient. */
  send: SQSClient["send"];
  readonly messages: Stored[];
  readonly deadLetters: Stored[];
  readonly calls: string[];
  /** Fail the next N calls of a command name with this error. */
  failNext(command: string, times: number, error: () => Error): void;
  add(body: string): void;
}

export function fakeSqs(options: { maxReceiveCount?: number } = {}): FakeSqs {
  const messages: Stored[] = [];
  const deadLetters: Stored[] = [];
  const calls: string[] = [];
  const failures = new Map<string, { times: number; error: () => Error }>();
  let nextId = 0;
  let nextReceipt = 0;
  const add = (body: string): void => {
    messages.push({ id: `m${nextId++}`, body, visibleAt: 0, receiveCount: 0, receipt: null });
  };
  const byReceipt = (receipt: string | undefined): Stored | undefined =>
    messages.find((m) => m.receipt === receipt);
  const receiveNow = (max: number, visibility: number): Stored[] => {
    const now = Date.now();
    const out: Stored[] = [];
    for (const message of [...messages]) {
      if (out.length >= max) break;
      if (message.visibleAt > now) continue;
      if (options.maxReceiveCount !== undefined && message.receiveCount >= options.maxReceiveCount) {
        messages.splice(messages.indexOf(message), 1);
        deadLetters.push(message);
        continue;
      }
      message.receiveCount++;
      message.receipt = `r${nextReceipt++}`;
      message.visibleAt = now + visibility * 1000;
      out.push(message);
    }
    return out;
  };
  return {
    messages,
    deadLetters,
    calls,
    add,
    failNext(command, times, error) {
      failures.set(command, { times, error });
    },
    send: (async (command: unknown, sendOptions?: { abortSignal?: AbortSignal }) => {
      const name = (command as object).constructor.name.replace(/Command$/, "");
      calls.push(name);
      const failure = failures.get(name);
      if (failure !== undefined && failure.times > 0) {
        failure.times--;
        throw failure.error();
      }
      // biome-ignore lint/suspicious/noExplicitAny: stands in for the SDK's overloaded, generic send
      const input = (command as { input: any }).input;
      if (command instanceof ReceiveMessageCommand) {
        const deadline = Date.now() + (input.WaitTimeSeconds ?? 0) * 1000;
        for (;;) {
          const got = receiveNow(input.MaxNumberOfMessages ?? 1, input.VisibilityTimeout ?? 30);
          if (got.length > 0 || Date.now() >= deadline || sendOptions?.abortSignal?.aborted) {
            return {
              Messages: got.map((m) => ({
                MessageId: m.id,
                ReceiptHandle: m.receipt,
                Body: m.body,
                Attributes: { ApproximateReceiveCount: String(m.receiveCount) },
              })),
            };
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      if (command instanceof DeleteMessageCommand) {
        const message = byReceipt(input.ReceiptHandle);
        if (message === undefined)
          throw Object.assign(new Error("receipt handle is invalid"), { name: "ReceiptHandleIsInvalid" });
        messages.splice(messages.indexOf(message), 1);
        return {};
      }
      if (command instanceof ChangeMessageVisibilityCommand) {
        const message = byReceipt(input.ReceiptHandle);
        if (message === undefined)
          throw Object.assign(new Error("receipt handle is invalid"), { name: "ReceiptHandleIsInvalid" });
        message.visibleAt = Date.now() + input.VisibilityTimeout * 1000;
        return {};
      }
      if (command instanceof SendMessageBatchCommand) {
        if (input.Entries.length > 10)
          throw Object.assign(new Error("too many entries"), { name: "TooManyEntriesInBatchRequest" });
        for (const entry of input.Entries) add(entry.MessageBody);
        return { Successful: input.Entries.map((e: { Id: string }) => ({ Id: e.Id })), Failed: [] };
      }
      throw new Error(`fake SQS does not implement ${name}`);
    }) as unknown as SQSClient["send"],
  };
}
