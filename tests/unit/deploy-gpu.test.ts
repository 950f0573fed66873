// biome-ignore-all lint/suspicious/noExplicitAny: a CloudFormation template is untyped JSON, read by shape
/**
 * serverless.yml with `--param compute=gpu`, packaged offline (tests/unit/deploy-package.ts) and evaluated
 * like the CPU template (tests/unit/deploy-template.test.ts): upload and batch as one container image on
 * an AWS::Lambda::CapacityProvider with an accelerator (property names as the CloudFormation reference
 * gives them), the same least-privilege roles, an operator role for the instances, every trigger of the
 * CPU mode, and the parameters checked at package time.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { parseDockerfile } from "../../container/check.js";
import { readStages } from "../../container/stages.js";
import { resourceSummary } from "../../deploy/package-offline.js";
import { ALLOCATOR_TUNABLES } from "../../lib/allocator.js";
import {
  conditionsOf,
  evaluate,
  type Json,
  list,
  type Packaged,
  packageWith,
  resourcesFor,
  root,
  statements,
  type Template,
} from "./deploy-package.js";

const { checkCompute, ACCELERATOR_MEMORY_GIB } = createRequire(import.meta.url)("../../deploy/compute.cjs");

const bucket = "media-test";
const kmsKey = "arn:aws:kms:eu-west-1:111122223333:key/0f1e2d3c";
const secret = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:unjpeg-keys-AbCdEf";
const image = `111122223333.dkr.ecr.eu-west-1.amazonaws.com/unjpeg@sha256:${"c0ffee".repeat(10)}abcd`;
const subnets = ["subnet-0a1b2c3d4e5f60718", "subnet-0b2c3d4e5f6071829"];
const securityGroup = "sg-0123456789abcdef0";
const common = [
  `bucket=${bucket}`,
  "sourcePrefixes=photos/,uploads/",
  `kmsKeyArn=${kmsKey}`,
  `signingKeysSecretArn=${secret}`,
];
const gpu = [
  "compute=gpu",
  `gpuImageUri=${image}`,
  `gpuSubnetIds=${subnets.join(",")}`,
  `gpuSecurityGroupIds=${securityGroup}`,
  "gpuInstanceTypes=g6.xlarge,g6e.xlarge",
  "gpuAcceleratorMemory=48",
  "gpuConcurrency=4",
  "gpuMaxVCpus=32",
];
const GPU_FUNCTIONS = ["UploadLambdaFunction", "BatchLambdaFunction"];

/** The lambda-gpu target of container/Dockerfile, as it ends (entry point, command, environment). */
const lambdaGpu = readStages(parseDockerfile(readFileSync(join(root, "container/Dockerfile"), "utf8"))).get(
  "lambda-gpu",
)!;

/** A resource with the values that change on every packaging (artifact keys, version hashes) removed. */
function stable(resource: unknown): unknown {
  return JSON.parse(JSON.stringify(resource), (key, value) =>
    key === "S3Key" || key === "CodeSha256" ? undefined : value,
  );
}

/** Resources that make something invoke one of `functions` (every trigger), by logical id. */
function triggersOf(template: Template, functions: readonly string[]): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (functions.includes(id) || resource.Type === "AWS::Lambda::Version") continue;
    const text = JSON.stringify(resource);
    if (functions.some((fn) => text.includes(`"${fn}"`))) out.set(id, stable(resource));
  }
  return out;
}

describe("serverless.yml packaged offline with compute=gpu (s3 trigger, two prefixes, KMS, signing keys)", () => {
  let packaged: Packaged;
  let cpu: Template;
  let template: Template;
  let conditions: Record<string, boolean>;

  before(async () => {
    const [cpuPackaged, gpuPackaged] = [
      await packageWith("ci-cpu", common),
      await packageWith("ci-gpu", [...common, ...gpu]),
    ];
    assert.equal(cpuPackaged.code, 0, cpuPackaged.output);
    assert.equal(gpuPackaged.code, 0, gpuPackaged.output);
    packaged = gpuPackaged;
    cpu = cpuPackaged.template!;
    template = gpuPackaged.template!;
    conditions = conditionsOf(template);
  });

  it("asked AWS for nothing but the stack lookup", () => {
    assert.deepEqual([...new Set(packaged.actions)], ["DescribeStacks"]);
  });

  it("runs upload and batch as one x86_64 container image, the lambda-gpu target's, with CUDA and its model", () => {
    for (const id of GPU_FUNCTIONS) {
      const p = template.Resources[id]?.Properties;
      assert.ok(p, `${id} missing`);
      assert.equal(p.PackageType, "Image");
      assert.deepEqual(p.Code, { ImageUri: image });
      assert.deepEqual(p.Architectures, ["x86_64"]);
      for (const zipOnly of ["Runtime", "Handler", "Layers"])
        assert.equal(p[zipOnly], undefined, `${id} ${zipOnly}`);
      assert.ok(p.Timeout <= 900);
      const env = p.Environment.Variables;
      assert.equal(env.UNJPEG_EXECUTION_PROVIDER, "cuda");
      assert.equal(env.UNJPEG_MODEL_DIR, lambdaGpu.env["UNJPEG_MODEL_DIR"], "the image's model folder");
      assert.equal(env.GLIBC_TUNABLES, ALLOCATOR_TUNABLES);
      assert.equal(env.UNJPEG_BUCKET, bucket);
      assert.equal(env.UNJPEG_SOURCE_PREFIXES, "photos/,uploads/");
      // Bounded by the capacity provider's vCPUs; numbered versions would each start environments.
      assert.equal(p.ReservedConcurrentExecutions, undefined);
    }
    assert.equal(template.Resources["UploadLambdaFunction"]?.Properties.Timeout, 300);
    assert.equal(template.Resources["BatchLambdaFunction"]?.Properties.Timeout, 900);
    const versions = Object.keys(template.Resources).filter((id) => id.includes("LambdaVersion"));
    assert.deepEqual(
      versions.filter((id) => !id.startsWith("CdnOrigin")),
      [],
    );
    // upload runs the image's own command; batch names its handler, which exists and is exported.
    assert.equal(template.Resources["UploadLambdaFunction"]?.Properties.ImageConfig, undefined);
    assert.deepEqual(lambdaGpu.cmd, ["dist/handlers/s3-upload.handler"]);
    const command = template.Resources["BatchLambdaFunction"]?.Properties.ImageConfig.Command;
    assert.deepEqual(command, ["dist/handlers/batch-operations.handler"]);
    const source = join(root, "handlers/batch-operations.ts");
    assert.ok(existsSync(source));
    assert.match(readFileSync(source, "utf8"), /export const handler\b/);
  });

  it("puts both functions on the capacity provider with the accelerator, as the reference names them", () => {
    for (const id of GPU_FUNCTIONS) {
      const p = template.Resources[id]?.Properties;
      assert.deepEqual(p.CapacityProviderConfig, {
        LambdaManagedInstancesCapacityProviderConfig: {
          CapacityProviderArn: { "Fn::GetAtt": ["GpuCapacityProvider", "Arn"] },
          PerExecutionEnvironmentMaxConcurrency: 4,
          ExecutionEnvironmentMemoryGiBPerVCpu: 4,
        },
      });
      const memoryPerVCpu =
        p.CapacityProviderConfig.LambdaManagedInstancesCapacityProviderConfig
          .ExecutionEnvironmentMemoryGiBPerVCpu;
      assert.ok(memoryPerVCpu >= 2 && memoryPerVCpu <= 8, "2 to 8 GiB per vCPU");
      assert.deepEqual(p.AcceleratorConfig, { AcceleratorMemorySize: 48 });
      assert.ok(ACCELERATOR_MEMORY_GIB.includes(p.AcceleratorConfig.AcceleratorMemorySize));
      assert.ok(p.MemorySize >= 2048 && p.MemorySize % memoryPerVCpu === 0);
    }
  });

  it("declares the capacity provider: VPC, operator role, x86_64 GPU instance types, a vCPU cap", () => {
    const provider = template.Resources["GpuCapacityProvider"];
    assert.equal(provider?.Type, "AWS::Lambda::CapacityProvider");
    const p = provider!.Properties;
    const reference = [
      "CapacityProviderName",
      "CapacityProviderScalingConfig",
      "InstanceRequirements",
      "KmsKeyArn",
      "PermissionsConfig",
      "PropagateTags",
      "Tags",
      "VpcConfig",
    ];
    for (const key of Object.keys(p))
      assert.ok(reference.includes(key), `${key} is not a CapacityProvider property`);
    assert.equal(p.CapacityProviderName, "unjpeg-ci-gpu");
    assert.deepEqual(p.VpcConfig, { SubnetIds: subnets, SecurityGroupIds: [securityGroup] });
    assert.deepEqual(p.PermissionsConfig, {
      CapacityProviderOperatorRoleArn: { "Fn::GetAtt": ["GpuOperatorRole", "Arn"] },
    });
    assert.deepEqual(p.InstanceRequirements, {
      Architectures: ["x86_64"],
      AllowedInstanceTypes: ["g6.xlarge", "g6e.xlarge"],
    });
    assert.deepEqual(p.CapacityProviderScalingConfig, { ScalingMode: "Auto", MaxVCpuCount: 32 });
    // What deploy/package-offline.ts prints for this template.
    assert.ok(resourceSummary(template).includes("  1 AWS::Lambda::CapacityProvider"));
    assert.deepEqual(template.Outputs.GpuCapacityProviderArn.Value, {
      "Fn::GetAtt": ["GpuCapacityProvider", "Arn"],
    });
  });

  it("gives the instances an operator role that only Lambda assumes, with AWS's policy for it alone", () => {
    const role = template.Resources["GpuOperatorRole"]?.Properties;
    assert.deepEqual(role.AssumeRolePolicyDocument.Statement, [
      { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
    ]);
    assert.deepEqual(role.ManagedPolicyArns, ["arn:aws:iam::aws:policy/AWSLambdaManagedEC2ResourceOperator"]);
    assert.equal(role.Policies, undefined, "no inline permissions beyond the managed policy");
  });

  it("keeps each function's least-privilege role exactly as in CPU mode, with no VPC or EC2 rights", () => {
    for (const role of ["UploadRole", "CdnRole", "BatchRole", "BatchOperationsRole"]) {
      assert.deepEqual(
        statements(template, role, conditions),
        statements(cpu, role, conditionsOf(cpu)),
        role,
      );
      assert.deepEqual(template.Resources[role], cpu.Resources[role], role);
    }
    for (const id of GPU_FUNCTIONS) {
      const roleId = template.Resources[id]?.Properties.Role["Fn::GetAtt"][0];
      assert.equal(roleId, cpu.Resources[id]?.Properties.Role["Fn::GetAtt"][0]);
      const actions = statements(template, roleId, conditions).flatMap((s) => list(s.Action));
      // The instances' networking is the operator role's (the capacity provider's VPC): the function has none.
      assert.deepEqual(
        actions.filter((a) => a.startsWith("ec2:")),
        [],
      );
      assert.equal(template.Resources[roleId]?.Properties.ManagedPolicyArns, undefined);
    }
    const upload = statements(template, "UploadRole", conditions);
    assert.deepEqual(resourcesFor(upload, "s3:PutObject").sort(), [
      `arn:aws:s3:::${bucket}/photos/*.restored.*`,
      `arn:aws:s3:::${bucket}/uploads/*.restored.*`,
    ]);
    assert.deepEqual(
      resourcesFor(statements(template, "BatchOperationsRole", conditions), "lambda:InvokeFunction"),
      ["getatt:BatchLambdaFunction.Arn"],
    );
  });

  it("subscribes the functions to every trigger of the CPU mode, unchanged", () => {
    const cpuTriggers = triggersOf(cpu, GPU_FUNCTIONS);
    const gpuTriggers = triggersOf(template, GPU_FUNCTIONS);
    assert.ok(cpuTriggers.size >= 4, [...cpuTriggers.keys()].join(", "));
    for (const [id, resource] of cpuTriggers)
      assert.deepEqual(gpuTriggers.get(id), resource, `${id} differs`);
    const types = [...gpuTriggers.values()].map((r) => (r as { Type: string }).Type).sort();
    for (const type of [
      "AWS::Lambda::EventSourceMapping",
      "AWS::Lambda::EventInvokeConfig",
      "Custom::S3",
      "AWS::IAM::Role",
    ]) {
      assert.ok(types.includes(type), `${type} missing`);
    }
    const queue = evaluate(template.Resources["RestoreQueue"]?.Properties as Json, conditions) as any;
    assert.ok(queue.VisibilityTimeout >= 6 * template.Resources["UploadLambdaFunction"]?.Properties.Timeout);
  });

  it("leaves the CDN origin on standard Lambda, from the layer, as in CPU mode", () => {
    const origin = (t: Template) => stable(t.Resources["CdnOriginLambdaFunction"]);
    assert.deepEqual(origin(template), origin(cpu));
    assert.deepEqual(template.Resources["CdnOriginLambdaFunction"]?.Properties.Layers, [
      { Ref: "InferenceLambdaLayer" },
    ]);
    assert.deepEqual(stable(template.Resources["CdnDistribution"]), stable(cpu.Resources["CdnDistribution"]));
  });
});

describe("serverless.yml packaged offline with compute=gpu and uploadTrigger=eventbridge", () => {
  it("routes uploads through EventBridge to the restore queue the upload function drains", async () => {
    const packaged = await packageWith("ci-gpu-eb", [
      `bucket=${bucket}`,
      "uploadTrigger=eventbridge",
      ...gpu,
    ]);
    assert.equal(packaged.code, 0, packaged.output);
    const template = packaged.template!;
    assert.deepEqual(conditionsOf(template), {
      HasKmsKey: false,
      HasSigningKeys: false,
      UseEventBridge: true,
    });
    assert.ok(!Object.values(template.Resources).some((r) => r.Type === "Custom::S3"));
    const rule = evaluate(
      template.Resources["UploadEventRule"]?.Properties as Json,
      conditionsOf(template),
    ) as any;
    assert.deepEqual(rule.Targets, [{ Id: "restore-queue", Arn: "getatt:RestoreQueue.Arn" }]);
    const mapping = Object.values(template.Resources).find(
      (r) => r.Type === "AWS::Lambda::EventSourceMapping",
    );
    assert.deepEqual(mapping?.Properties.FunctionName, { "Fn::GetAtt": ["UploadLambdaFunction", "Arn"] });
    assert.deepEqual(mapping?.Properties.FunctionResponseTypes, ["ReportBatchItemFailures"]);
    assert.equal(template.Resources["UploadLambdaFunction"]?.Properties.PackageType, "Image");
  });
});

describe("compute=gpu without its required parameters", () => {
  it("fails at package time with one message naming each, and asks AWS for nothing", async () => {
    const packaged = await packageWith("ci-gpu-bad", [
      `bucket=${bucket}`,
      "compute=gpu",
      "gpuAcceleratorMemory=20",
    ]);
    assert.notEqual(packaged.code, 0);
    assert.equal(packaged.template, undefined);
    assert.deepEqual(packaged.actions, []);
    for (const line of [
      /gpuImageUri is required with compute=gpu/,
      /gpuSubnetIds is required with compute=gpu/,
      /gpuSecurityGroupIds is required with compute=gpu/,
      /gpuAcceleratorMemory must be one of 3, 6, 12, 16, 24, 48 \(GiB\), got 20/,
    ]) {
      assert.match(packaged.output, line);
    }
    assert.doesNotMatch(packaged.output, /\n\s+at /, "no stack trace");
  });
});

describe("deploy/compute.cjs", () => {
  const valid = {
    compute: "gpu",
    gpuImageUri: image,
    gpuSubnetIds: subnets.join(", "),
    gpuSecurityGroupIds: securityGroup,
    gpuInstanceTypes: "g6.xlarge,g5.2xlarge,p5.48xlarge",
    gpuAcceleratorMemory: 24,
    gpuConcurrency: "8",
    gpuMaxVCpus: "16",
  };
  const problems = (params: Record<string, unknown>): string[] => {
    try {
      checkCompute(params);
      return [];
    } catch (error) {
      return (error as { problems: string[] }).problems;
    }
  };

  it("returns the parameters typed: lists split, numbers parsed", () => {
    assert.deepEqual(checkCompute(valid), {
      mode: "gpu",
      imageUri: image,
      subnetIds: subnets,
      securityGroupIds: [securityGroup],
      instanceTypes: ["g6.xlarge", "g5.2xlarge", "p5.48xlarge"],
      acceleratorMemory: 24,
      concurrency: 8,
      maxVCpus: 16,
    });
    const tagged = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/unjpeg:2026-12-04";
    assert.deepEqual(problems({ ...valid, gpuImageUri: tagged }), []);
  });

  it("accepts only the allowed accelerator memory sizes and the reference's ranges", () => {
    for (const size of ACCELERATOR_MEMORY_GIB)
      assert.deepEqual(problems({ ...valid, gpuAcceleratorMemory: size }), []);
    assert.deepEqual(ACCELERATOR_MEMORY_GIB, [3, 6, 12, 16, 24, 48]);
    for (const [name, value] of [
      ["gpuAcceleratorMemory", "8"],
      ["gpuAcceleratorMemory", "96"],
      ["gpuAcceleratorMemory", "24.0.1"],
      ["gpuConcurrency", "0"],
      ["gpuConcurrency", "1601"],
      ["gpuMaxVCpus", "1"],
      ["gpuMaxVCpus", "many"],
    ] as const) {
      assert.equal(problems({ ...valid, [name]: value }).length, 1, `${name}=${value}`);
    }
  });

  it("refuses what the capacity provider would refuse, all at once", () => {
    const found = problems({
      ...valid,
      compute: "gpu",
      gpuImageUri: "docker.io/unjpeg:latest",
      gpuSubnetIds: "vpc-123,subnet-0a1b2c3d",
      gpuSecurityGroupIds: Array.from({ length: 6 }, (_, i) => `sg-0000000${i}`).join(","),
      gpuInstanceTypes: "g5g.xlarge,c7i.large",
    });
    assert.equal(found.length, 5, found.join("\n"));
    assert.match(found.join("\n"), /gpuImageUri must name an image in Amazon ECR/);
    assert.match(found.join("\n"), /"vpc-123" is not subnet IDs/);
    assert.match(found.join("\n"), /takes 1 to 5 security group IDs \(sg-\.\.\.\), got 6/);
    assert.match(found.join("\n"), /g5g\.xlarge is arm64 \(Graviton\)/);
    assert.match(found.join("\n"), /"c7i\.large" is not NVIDIA GPU instance types/);
  });

  it("checks nothing of the GPU's in cpu mode, and refuses another compute", () => {
    const cpu = checkCompute({
      compute: "cpu",
      gpuImageUri: "",
      gpuSubnetIds: "",
      gpuAcceleratorMemory: "x",
    });
    assert.equal(cpu.mode, "cpu");
    // Every value is defined (serverless.yml resolves the GPU definitions in cpu mode too, unused).
    for (const [key, value] of Object.entries(cpu)) assert.notEqual(value, undefined, key);
    assert.deepEqual(problems({ compute: "tpu" }), ['compute must be cpu or gpu, got "tpu"']);
  });
});
