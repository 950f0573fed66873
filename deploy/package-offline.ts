/**
 * `osls package` of serverless.yml without AWS: to read the CloudFormation template a deployment would
 * submit (and for the deploy tests). osls asks CloudFormation one thing while packaging (DescribeStacks, to
 * reuse an unchanged layer); a loopback stand-in answers "no such stack", stub credentials replace the
 * user's, and every AWS endpoint points at the stand-in, so any other call fails instead of reaching AWS.
 *
 *   npx tsx deploy/package-offline.ts --stage prod --region eu-west-1 --package out \
 *     --param bucket=my-media --param compute=gpu --param gpuImageUri=... [--param ...]
 *
 * Prints osls's output, then the template's resources by type. Exit status: osls's.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";

export const root = resolve(import.meta.dirname, "..");

/** Starts the CloudFormation stand-in; returns it with the list of actions it was asked for. */
export async function startCloudFormationStub(): Promise<{ server: Server; url: string; actions: string[] }> {
  const actions: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      const action = new URLSearchParams(body).get("Action") ?? `${req.method} ${req.url}`;
      actions.push(action);
      const message =
        action === "DescribeStacks" ? "Stack does not exist" : `offline stand-in: ${action} not expected`;
      res.writeHead(400, { "content-type": "text/xml" });
      res.end(
        `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>` +
          `<Code>ValidationError</Code><Message>${message}</Message></Error><RequestId>stub</RequestId></ErrorResponse>`,
      );
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, actions };
}

/**
 * Runs `osls package <args>` in the repository with only stub credentials and every AWS endpoint on the
 * stand-in at `stubUrl`; `echo` also copies its output to this process's.
 */
export async function oslsPackage(
  stubUrl: string,
  args: readonly string[],
  echo = false,
): Promise<{ code: number | null; output: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(AWS_|HTTPS?_PROXY|ALL_PROXY)/i.test(name)) env[name] = value;
  }
  Object.assign(env, {
    AWS_ACCESS_KEY_ID: "stub",
    AWS_SECRET_ACCESS_KEY: "stub",
    AWS_ENDPOINT_URL: stubUrl,
    AWS_EC2_METADATA_DISABLED: "true",
    NO_PROXY: "127.0.0.1,localhost",
  });
  const bin = join(root, "node_modules/osls/bin/serverless.js");
  const child = spawn(process.execPath, [bin, "package", ...args], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const take = (chunk: Buffer) => {
    output += chunk;
    if (echo) process.stderr.write(chunk);
  };
  child.stdout.on("data", take);
  child.stderr.on("data", take);
  const code = await new Promise<number | null>((done) => child.on("close", done));
  return { code, output };
}

/** `<count> <type>` lines for the template's resources, by type. */
export function resourceSummary(template: { Resources: Record<string, { Type: string }> }): string[] {
  const counts = new Map<string, number>();
  for (const resource of Object.values(template.Resources)) {
    counts.set(resource.Type, (counts.get(resource.Type) ?? 0) + 1);
  }
  return [...counts]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, n]) => `${String(n).padStart(3)} ${type}`);
}

async function main(args: string[]): Promise<number> {
  const stub = await startCloudFormationStub();
  try {
    const { code } = await oslsPackage(stub.url, args, true);
    const at = args.indexOf("--package");
    const template = join(
      resolve(at >= 0 ? args[at + 1]! : join(root, ".serverless")),
      "cloudformation-template-update-stack.json",
    );
    if (code === 0 && existsSync(template)) {
      process.stdout.write(`template: ${template}\n`);
      for (const line of resourceSummary(JSON.parse(readFileSync(template, "utf8")))) {
        process.stdout.write(`${line}\n`);
      }
      process.stdout.write(
        `asked of AWS (the stand-in): ${[...new Set(stub.actions)].join(", ") || "nothing"}\n`,
      );
    }
    return code ?? 1;
  } finally {
    stub.server.close();
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  process.exitCode = await main(process.argv.slice(2));
}
