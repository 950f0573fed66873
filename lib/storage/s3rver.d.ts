/** The part of s3rver 3.7 (a CommonJS development dependency without types) that the local stack uses. */
declare module "s3rver" {
  import type { Server } from "node:http";

  export interface S3rverRecord {
    eventName: string;
    s3: { bucket: { name: string; arn?: string }; object: { key: string; [field: string]: unknown } };
    [field: string]: unknown;
  }

  /** The part of a Koa context the local stack's own middleware uses. */
  export interface S3rverContext {
    readonly path: string;
    readonly method: string;
    status: number;
    type: string;
    body: unknown;
  }

  export default class S3rver {
    /** Koa's middleware list (s3rver is a Koa application); composed when the server starts. */
    middleware: ((ctx: S3rverContext, next: () => Promise<void>) => Promise<void>)[];
    constructor(options: {
      port: number;
      address: string;
      directory: string;
      silent?: boolean;
      configureBuckets?: { name: string }[];
    });
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
    on(name: "event", listener: (event: { Records: S3rverRecord[] }) => void): this;
    httpServer?: Server;
  }
}
