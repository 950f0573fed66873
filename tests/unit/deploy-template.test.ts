// biome-ignore-all lint/suspicious/noExplicitAny: a CloudFormation template is untyped JSON, read by shape
/**
 * `osls package` of serverless.yml, offline: no AWS credentials of the user's, no network. osls asks
 * CloudFormation once (DescribeStacks, to reuse an unchanged layer); a loopback stub answers "no such
 * stack", and every other AWS endpoint also points at the stub so that any further call fails the test.
 * The template's intrinsic functions are evaluated here, so the IAM checks see the ARNs AWS would see.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { ALLOCATOR_TUNABLES } from "../../lib/allocator.js";

const root = resolve(import.meta.dirname, "../..");
const bucket = "media-test";
const kmsKey = "arn:aws:kms:eu-west-1:111122223333:key/0f1e2d3c";
const secret = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:unjpeg-keys-AbCdEf";
const bucketArn = `arn:aws:s3:::${bucket}`;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Template = { Resources: Record<string, { Type: string; Condition?: string; Properties: any }> } & Record<
  string,
  any
>;

/** Starts the CloudFormation stand-in; returns it with the list of actions it was asked for. */
async function startCloudFormationStub(): Promise<{ server: Server; url: string; actions: string[] }> {
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
        action === "DescribeStacks"
          ? "Stack with id unjpeg-ci does not exist"
          : `stub: ${action} not expected`;
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

/** Runs `osls package` with only stub credentials and every AWS endpoint on the loopback stub. */
async function oslsPackage(stubUrl: string, outDir: string, params: string[]): Promise<string> {
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
  const args = [bin, "package", "--stage", "ci", "--region", "eu-west-1", "--package", outDir];
  for (const param of params) args.push("--param", param);
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr.on("data", (chunk) => {
    output += chunk;
  });
  const code = await new Promise<number | null>((done) => child.on("close", done));
  assert.equal(code, 0, `osls package failed:\n${output}`);
  return output;
}

interface Packaged {
  readonly template: Template;
  /** What the CloudFormation stub was asked for. */
  readonly actions: string[];
  /** Stops the stub, removes the layer and output folders. */
  close(): void;
}

/**
 * `osls package` against a fresh stub with `bucket`, `params` and a stand-in layer folder
 * (layers/build/<layerName>-<pid>); the packaged CloudFormation template, read back.
 */
async function packageWith(layerName: string, params: string[]): Promise<Packaged> {
  const stub = await startCloudFormationStub();
  const outDir = mkdtempSync(join(tmpdir(), "unjpeg-package-"));
  const layerDir = `layers/build/${layerName}-${process.pid}`;
  const close = () => {
    stub.server.close();
    rmSync(join(root, layerDir), { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  };
  try {
    mkdirSync(join(root, layerDir, "nodejs"), { recursive: true });
    writeFileSync(join(root, layerDir, "nodejs/package.json"), '{"type":"module"}\n');
    await oslsPackage(stub.url, outDir, [`bucket=${bucket}`, ...params, `layerDir=${layerDir}`]);
    const template = JSON.parse(
      readFileSync(join(outDir, "cloudformation-template-update-stack.json"), "utf8"),
    );
    return { template, actions: stub.actions, close };
  } catch (error) {
    close();
    throw error;
  }
}

/** Evaluates the intrinsic functions this template uses, as CloudFormation would on deploy. */
function evaluate(value: Json, conditions: Record<string, boolean>): Json | undefined {
  if (Array.isArray(value)) {
    return value.map((item) => evaluate(item, conditions)).filter((item) => item !== undefined) as Json[];
  }
  if (value === null || typeof value !== "object") return value;
  const keys = Object.keys(value);
  const [fn] = keys;
  if (keys.length === 1 && fn !== undefined && (fn === "Ref" || fn.startsWith("Fn::"))) {
    const arg = value[fn] as any;
    switch (fn) {
      case "Ref":
        if (arg === "AWS::NoValue") return undefined;
        if (arg === "AWS::AccountId") return "111122223333";
        if (arg === "AWS::Partition") return "aws";
        return `ref:${arg}`;
      case "Fn::GetAtt":
        return `getatt:${arg[0]}.${arg[1]}`;
      case "Fn::Join":
        return (evaluate(arg[1], conditions) as Json[]).join(arg[0]);
      case "Fn::Split":
        return (evaluate(arg[1], conditions) as string).split(arg[0]);
      case "Fn::Select":
        return (evaluate(arg[1], conditions) as Json[])[arg[0]] as Json;
      case "Fn::If": {
        const chosen = conditions[arg[0]] ? arg[1] : arg[2];
        assert.notEqual(conditions[arg[0]], undefined, `unknown condition ${arg[0]}`);
        return evaluate(chosen, conditions);
      }
      case "Fn::Sub":
        return String(arg);
      default:
        throw new Error(`evaluate: ${fn} not handled`);
    }
  }
  const out: { [key: string]: Json } = {};
  for (const [key, item] of Object.entries(value)) {
    const evaluated = evaluate(item, conditions);
    if (evaluated !== undefined) out[key] = evaluated;
  }
  return out;
}

function conditionsOf(template: Template): Record<string, boolean> {
  const result: Record<string, boolean> = {};
  for (const [name, condition] of Object.entries(template.Conditions as Record<string, any>)) {
    const equals = (args: [string, string]) => args[0] === args[1];
    result[name] = condition["Fn::Not"]
      ? !equals(condition["Fn::Not"][0]["Fn::Equals"])
      : equals(condition["Fn::Equals"]);
  }
  return result;
}

type Statement = { Effect: string; Action: string | string[]; Resource: string | string[]; Condition?: any };

function statements(template: Template, role: string, conditions: Record<string, boolean>): Statement[] {
  const policies = template.Resources[role]?.Properties.Policies as any[];
  assert.ok(policies, `role ${role} missing`);
  return policies.flatMap(
    (policy) => (evaluate(policy.PolicyDocument, conditions) as any).Statement as Statement[],
  );
}

const list = (value: string | string[]): string[] => (Array.isArray(value) ? value : [value]);

/** The resources a role may use for one action (all statements together). */
function resourcesFor(all: Statement[], action: string): string[] {
  return all.filter((s) => list(s.Action).includes(action)).flatMap((s) => list(s.Resource));
}

describe("serverless.yml packaged offline (s3 trigger, two prefixes, KMS, signing keys)", () => {
  let packaged: Packaged | undefined;
  let template: Template;
  let conditions: Record<string, boolean>;

  before(async () => {
    packaged = await packageWith("ci-layer", [
      "sourcePrefixes=photos/,uploads/",
      `kmsKeyArn=${kmsKey}`,
      `signingKeysSecretArn=${secret}`,
    ]);
    template = packaged.template;
    conditions = conditionsOf(template);
  });

  after(() => packaged?.close());

  it("asked AWS for nothing but the stack lookup", () => {
    assert.deepEqual([...new Set(packaged?.actions)], ["DescribeStacks"]);
  });

  it("runs every function on Node 22, x86_64, from the layer, with deliberate limits", () => {
    const expected: Record<string, [number, number, number]> = {
      UploadLambdaFunction: [6144, 300, 20],
      CdnOriginLambdaFunction: [10240, 60, 20],
      BatchLambdaFunction: [6144, 900, 50],
    };
    const functions = Object.entries(template.Resources).filter(
      ([, r]) => r.Type === "AWS::Lambda::Function",
    );
    for (const [id, [memory, timeout, reserved]] of Object.entries(expected)) {
      const p = template.Resources[id]?.Properties;
      assert.ok(p, `${id} missing`);
      assert.equal(p.Runtime, "nodejs22.x");
      assert.deepEqual(p.Architectures, ["x86_64"]);
      assert.equal(p.MemorySize, memory);
      assert.equal(p.Timeout, timeout);
      assert.equal(p.ReservedConcurrentExecutions, reserved);
      assert.deepEqual(p.Layers, [{ Ref: "InferenceLambdaLayer" }]);
      assert.equal(p.Environment.Variables.UNJPEG_BUCKET, bucket);
      assert.equal(p.Environment.Variables.UNJPEG_MODEL_DIR, "/opt/nodejs/models/codiff-tiny");
      assert.equal(p.Environment.Variables.GLIBC_TUNABLES, ALLOCATOR_TUNABLES);
    }
    // The three above, plus osls's own helper that attaches notifications to an existing bucket.
    assert.deepEqual(functions.map(([id]) => id).sort(), [
      "BatchLambdaFunction",
      "CdnOriginLambdaFunction",
      "CustomDashresourceDashexistingDashs3LambdaFunction",
      "UploadLambdaFunction",
    ]);
    const layer = template.Resources["InferenceLambdaLayer"]?.Properties;
    assert.deepEqual(layer.CompatibleRuntimes, ["nodejs22.x"]);
    assert.deepEqual(layer.CompatibleArchitectures, ["x86_64"]);
  });

  it("zips only the handler re-exports into the functions", () => {
    const handlers = ["Upload", "CdnOrigin", "Batch"].map(
      (name) => template.Resources[`${name}LambdaFunction`]?.Properties.Handler,
    );
    assert.deepEqual(handlers, [
      "layers/function/s3-upload.handler",
      "layers/function/cdn-origin.handler",
      "layers/function/batch-operations.handler",
    ]);
    for (const name of ["s3-upload", "cdn-origin", "batch-operations"]) {
      const text = readFileSync(join(root, `layers/function/${name}.mjs`), "utf8");
      assert.match(text, new RegExp(`from "/opt/nodejs/dist/handlers/${name}\\.js"`));
    }
  });

  it("subscribes uploads through S3 notifications and the buffered queue with a dead-letter queue", () => {
    const custom = Object.values(template.Resources).find((r) => r.Type === "Custom::S3");
    const configs = custom?.Properties.BucketConfigs as any[];
    assert.ok(configs, "existing-bucket notification resource missing");
    const seen = configs.map((c) => `${c.Event} ${JSON.stringify(c.Rules)}`).sort();
    for (const event of ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]) {
      for (const suffix of [".jpg", ".jpeg", ".JPG", ".JPEG"]) {
        assert.ok(
          seen.includes(`${event} [{"Suffix":"${suffix}"}]`),
          `${event} ${suffix} missing in ${seen}`,
        );
      }
    }
    const queue = template.Resources["RestoreQueue"]?.Properties;
    assert.deepEqual(queue.RedrivePolicy.deadLetterTargetArn, {
      "Fn::GetAtt": ["RestoreDeadLetterQueue", "Arn"],
    });
    assert.ok(queue.VisibilityTimeout >= 6 * 300, "visibility timeout below 6 × the function timeout");
    const mapping = Object.values(template.Resources).find(
      (r) => r.Type === "AWS::Lambda::EventSourceMapping",
    );
    assert.deepEqual(mapping?.Properties.FunctionResponseTypes, ["ReportBatchItemFailures"]);
    assert.equal(mapping?.Properties.BatchSize, 1);
    assert.equal(template.Resources["UploadEventRule"]?.Condition, "UseEventBridge");
    assert.equal(conditions["UseEventBridge"], false);
  });

  it("builds an EventBridge pattern matching JPEG keys under each prefix only", () => {
    const pattern = JSON.parse(
      evaluate(template.Resources["UploadEventRule"]?.Properties.EventPattern, {}) as string,
    );
    assert.deepEqual(pattern.source, ["aws.s3"]);
    assert.deepEqual(pattern["detail-type"], ["Object Created", "Object Deleted"]);
    assert.deepEqual(pattern.detail.bucket.name, [bucket]);
    const wildcards = (pattern.detail.object.key as { wildcard: string }[]).map((k) => k.wildcard).sort();
    const expected = ["photos/", "uploads/"].flatMap((p) =>
      ["jpg", "jpeg", "JPG", "JPEG"].map((e) => `${p}*.${e}`),
    );
    assert.deepEqual(wildcards, expected.sort());
  });

  it("serves the CDN through a streaming IAM-only function URL that only the distribution may call", () => {
    const url = template.Resources["CdnOriginLambdaFunctionUrl"]?.Properties;
    assert.equal(url.AuthType, "AWS_IAM");
    assert.equal(url.InvokeMode, "RESPONSE_STREAM");
    const oac = template.Resources["CdnOriginAccessControl"]?.Properties.OriginAccessControlConfig;
    assert.equal(oac.OriginAccessControlOriginType, "lambda");
    assert.equal(oac.SigningBehavior, "always");
    const distribution = template.Resources["CdnDistribution"]?.Properties.DistributionConfig;
    assert.deepEqual(distribution.Origins[0].OriginAccessControlId, {
      "Fn::GetAtt": ["CdnOriginAccessControl", "Id"],
    });
    assert.deepEqual(distribution.DefaultCacheBehavior.CachePolicyId, { Ref: "CdnCachePolicy" });
    assert.deepEqual(distribution.DefaultCacheBehavior.AllowedMethods, ["GET", "HEAD"]);
    const reserved = distribution.CacheBehaviors.find((b: any) => b.PathPattern === "/_unjpeg/*");
    assert.equal(
      reserved?.CachePolicyId,
      "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
      "reserved routes not cached",
    );
    const cache = template.Resources["CdnCachePolicy"]?.Properties.CachePolicyConfig;
    const keyed = cache.ParametersInCacheKeyAndForwardedToOrigin.QueryStringsConfig.QueryStrings;
    assert.deepEqual([...keyed].sort(), ["expires", "format", "quality", "sig"]);
    const permissions = Object.values(template.Resources).filter((r) => r.Type === "AWS::Lambda::Permission");
    assert.deepEqual(permissions.map((p) => p.Properties.Action).sort(), [
      "lambda:InvokeFunction",
      "lambda:InvokeFunctionUrl",
    ]);
    for (const permission of permissions) {
      assert.equal(permission.Properties.Principal, "cloudfront.amazonaws.com");
      assert.equal(
        evaluate(permission.Properties.SourceArn, conditions),
        "arn:aws:cloudfront::111122223333:distribution/ref:CdnDistribution",
      );
    }
  });

  it("reads the signing keys from the secret given by ARN, at deploy time", () => {
    const value =
      template.Resources["CdnOriginLambdaFunction"]?.Properties.Environment.Variables.UNJPEG_SIGNING_KEYS;
    assert.equal(evaluate(value, conditions), `{{resolve:secretsmanager:${secret}:SecretString}}`);
    assert.equal(evaluate(value, { ...conditions, HasSigningKeys: false }), "");
  });

  it("grants each function only its prefixes, its derivatives and its key (least privilege)", () => {
    const sources = [`${bucketArn}/photos/*`, `${bucketArn}/uploads/*`];
    const derivatives = [`${bucketArn}/photos/*.restored.*`, `${bucketArn}/uploads/*.restored.*`];
    for (const role of ["UploadRole", "CdnRole", "BatchRole"]) {
      const all = statements(template, role, conditions);
      for (const s of all) {
        assert.equal(s.Effect, "Allow");
        for (const action of list(s.Action))
          assert.doesNotMatch(action, /\*/, `${role}: wildcard action ${action}`);
        for (const resource of list(s.Resource)) assert.notEqual(resource, "*", `${role}: resource "*"`);
      }
      assert.deepEqual(resourcesFor(all, "s3:GetObjectVersion").sort(), sources);
      assert.deepEqual(resourcesFor(all, "s3:GetObject").sort(), [...sources, ...derivatives].sort());
      assert.deepEqual(resourcesFor(all, "s3:PutObject").sort(), derivatives);
      assert.deepEqual(resourcesFor(all, "s3:AbortMultipartUpload").sort(), derivatives);
      assert.deepEqual(resourcesFor(all, "s3:ListBucket"), [bucketArn]);
      assert.deepEqual(resourcesFor(all, "kms:Decrypt"), [kmsKey]);
      assert.deepEqual(resourcesFor(all, "kms:GenerateDataKey"), [kmsKey]);
      const kms = all.find((s) => list(s.Action).includes("kms:Decrypt"));
      assert.deepEqual(kms?.Condition, { StringEquals: { "kms:ViaService": "s3.eu-west-1.amazonaws.com" } });
      const actions = new Set(all.flatMap((s) => list(s.Action)));
      assert.equal(actions.has("s3:DeleteObject"), role === "UploadRole", `${role} and s3:DeleteObject`);
      assert.equal(
        actions.has("sqs:ReceiveMessage"),
        role === "UploadRole",
        `${role} and sqs:ReceiveMessage`,
      );
      const logs = resourcesFor(all, "logs:PutLogEvents");
      assert.equal(logs.length, 1);
      assert.match(logs[0] ?? "", /^getatt:\w+LogGroup\.Arn$/);
    }
    const upload = statements(template, "UploadRole", conditions);
    assert.deepEqual(resourcesFor(upload, "s3:DeleteObject").sort(), derivatives);
    assert.deepEqual(resourcesFor(upload, "sqs:ReceiveMessage"), ["getatt:RestoreQueue.Arn"]);
  });

  it("drops the KMS statement when no key is given", () => {
    const all = statements(template, "UploadRole", { ...conditions, HasKmsKey: false });
    assert.ok(all.every((s) => !list(s.Action).some((a) => a.startsWith("kms:"))));
  });

  it("gives S3 Batch Operations a role that can only invoke the batch function and use batchPrefix", () => {
    const all = statements(template, "BatchOperationsRole", conditions);
    assert.deepEqual(resourcesFor(all, "lambda:InvokeFunction"), ["getatt:BatchLambdaFunction.Arn"]);
    assert.deepEqual(resourcesFor(all, "s3:GetObject"), [`${bucketArn}/_unjpeg/batch/*`]);
    assert.deepEqual(resourcesFor(all, "s3:PutObject"), [`${bucketArn}/_unjpeg/batch/reports/*`]);
    const trust = template.Resources["BatchOperationsRole"]?.Properties.AssumeRolePolicyDocument;
    assert.equal(trust.Statement[0].Principal.Service, "batchoperations.s3.amazonaws.com");
  });
});

describe("serverless.yml packaged offline (eventbridge trigger, whole bucket, no KMS)", () => {
  let packaged: Packaged | undefined;
  let template: Template;

  before(async () => {
    packaged = await packageWith("ci-layer-eb", ["uploadTrigger=eventbridge"]);
    template = packaged.template;
  });

  after(() => packaged?.close());

  it("routes uploads through EventBridge to the queue, with no bucket notifications", () => {
    const conditions = conditionsOf(template);
    assert.deepEqual(conditions, { HasKmsKey: false, HasSigningKeys: false, UseEventBridge: true });
    assert.ok(!Object.values(template.Resources).some((r) => r.Type === "Custom::S3"));
    const rule = template.Resources["UploadEventRule"]?.Properties;
    assert.deepEqual(evaluate(rule.Targets, conditions), [
      { Id: "restore-queue", Arn: "getatt:RestoreQueue.Arn" },
    ]);
    const pattern = JSON.parse(evaluate(rule.EventPattern, conditions) as string);
    const wildcards = (pattern.detail.object.key as { wildcard: string }[]).map((k) => k.wildcard).sort();
    assert.deepEqual(wildcards, ["*.JPEG", "*.JPG", "*.jpeg", "*.jpg"]);
    const policy = evaluate(
      template.Resources["RestoreQueuePolicy"]?.Properties.PolicyDocument,
      conditions,
    ) as any;
    assert.deepEqual(policy.Statement[0].Principal, { Service: "events.amazonaws.com" });
    assert.deepEqual(policy.Statement[0].Condition, {
      ArnEquals: { "aws:SourceArn": "getatt:UploadEventRule.Arn" },
    });
  });

  it("grants the whole bucket's objects and derivatives when no prefix is given, and no KMS", () => {
    const all = statements(template, "UploadRole", conditionsOf(template));
    assert.deepEqual(resourcesFor(all, "s3:GetObjectVersion"), [`${bucketArn}/*`]);
    assert.deepEqual(resourcesFor(all, "s3:PutObject"), [`${bucketArn}/*.restored.*`]);
    assert.ok(all.every((s) => !list(s.Action).some((a) => a.startsWith("kms:"))));
  });
});
