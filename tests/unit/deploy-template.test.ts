// biome-ignore-all lint/suspicious/noExplicitAny: a CloudFormation template is untyped JSON, read by shape
/**
 * `osls package` of serverless.yml, offline: no AWS credentials of the user's, no network (the packaging
 * and the template's evaluation are tests/unit/deploy-package.ts's, shared with the GPU mode's tests). osls
 * asks CloudFormation once (DescribeStacks, to reuse an unchanged layer); a loopback stub answers "no such
 * stack", and every other AWS endpoint also points at the stub so that any further call fails the test.
 * The template's intrinsic functions are evaluated, so the IAM checks see the ARNs AWS would see.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { ALLOCATOR_TUNABLES } from "../../lib/allocator.js";
import {
  conditionsOf,
  evaluate,
  list,
  packageWith as packageOffline,
  resourcesFor,
  statements as roleStatements,
  root,
  type Template,
} from "./deploy-package.js";

const bucket = "media-test";
const kmsKey = "arn:aws:kms:eu-west-1:111122223333:key/0f1e2d3c";
const secret = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:unjpeg-keys-AbCdEf";
const bucketArn = `arn:aws:s3:::${bucket}`;

/** `osls package` with `bucket` and `params` (tests/unit/deploy-package.ts); it must succeed. */
async function packageWith(
  layerName: string,
  params: string[],
): Promise<{ template: Template; actions: string[] }> {
  const packaged = await packageOffline(layerName, [`bucket=${bucket}`, ...params]);
  assert.equal(packaged.code, 0, `osls package failed:\n${packaged.output}`);
  return { template: packaged.template!, actions: packaged.actions };
}

/** Every statement of a role's inline policies, evaluated; the role must exist. */
function statements(template: Template, role: string, conditions: Record<string, boolean>) {
  assert.ok(template.Resources[role]?.Properties.Policies, `role ${role} missing`);
  return roleStatements(template, role, conditions);
}

describe("serverless.yml packaged offline (s3 trigger, two prefixes, KMS, signing keys)", () => {
  let packaged: { template: Template; actions: string[] } | undefined;
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
  let packaged: { template: Template; actions: string[] } | undefined;
  let template: Template;

  before(async () => {
    packaged = await packageWith("ci-layer-eb", ["uploadTrigger=eventbridge"]);
    template = packaged.template;
  });

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
