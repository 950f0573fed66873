/** The SQS client for `unjpeg worker` and `unjpeg enqueue`: the SDK's credentials and region, an endpoint when given. */
import { SQSClient } from "@aws-sdk/client-sqs";

export function createSqsClient(options: { endpoint?: string; region?: string } = {}): SQSClient {
  return new SQSClient({
    ...(options.endpoint === undefined
      ? {}
      : { endpoint: options.endpoint, region: options.region ?? "us-east-1" }),
    ...(options.region === undefined ? {} : { region: options.region }),
  });
}

/** The region of a standard queue URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`), if it names one. */
export function regionOfQueueUrl(queueUrl: string): string | undefined {
  return /^https:\/\/sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?\//.exec(queueUrl)?.[1];
}
