/**
 * serverless.yml's compute choice (`--param compute=cpu|gpu`) and the GPU mode's parameters, checked when
 * osls resolves the configuration (`osls package`, `osls deploy`), before anything is built or asked of
 * AWS: every problem in one message, as lib/config.ts does for the environment. osls calls the exported
 * function for `${file(./deploy/compute.cjs)}` with a resolver for `param:` variables; what it returns,
 * typed (lists split, numbers parsed), is `custom.compute` in serverless.yml.
 *
 * CommonJS because osls loads JavaScript variable sources with require().
 */
"use strict";

/** AcceleratorConfig.AcceleratorMemorySize: GiB of accelerator memory per execution environment. */
const ACCELERATOR_MEMORY_GIB = [3, 6, 12, 16, 24, 48];

/** The parameters read here (serverless.yml `params.default` gives each a value, "" when required). */
const PARAMS = [
  "compute",
  "gpuImageUri",
  "gpuSubnetIds",
  "gpuSecurityGroupIds",
  "gpuInstanceTypes",
  "gpuAcceleratorMemory",
  "gpuConcurrency",
  "gpuMaxVCpus",
];

// An image in ECR, by digest (packages offline) or by tag (osls looks the digest up in ECR at deploy time).
const ECR_IMAGE =
  /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\/[a-z0-9._/-]+(:[\w.-]{1,128}|@sha256:[0-9a-f]{64})$/;
const SUBNET = /^subnet-[0-9a-f]{8,17}$/;
const SECURITY_GROUP = /^sg-[0-9a-f]{8,17}$/;
// NVIDIA instance families (g4dn, g5, g6, g6e, gr6, p4d, p5, ...), one size each: x86_64 only, so not
// the Graviton ones (g5g).
const GPU_INSTANCE_TYPE = /^(g|gr|p)\d+[a-z]*\.[a-z0-9]+$/;
const GRAVITON_GPU = /^g\d+g\./;

class ComputeParamsError extends Error {
  constructor(problems) {
    super(`invalid deploy parameters:\n  - ${problems.join("\n  - ")}`);
    this.name = "ComputeParamsError";
    this.problems = problems;
    // osls prints a JS variable source's error by its stack: the message alone is what an operator needs.
    this.stack = this.message;
  }
}

const list = (text) =>
  String(text)
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");

/**
 * Checks the parameters (strings, as osls gives them) and returns them typed. In cpu mode the GPU
 * parameters are not used, and not checked.
 */
function checkCompute(params) {
  const problems = [];
  const mode = String(params.compute ?? "cpu").trim();
  if (mode !== "cpu" && mode !== "gpu") problems.push(`compute must be cpu or gpu, got "${mode}"`);
  const gpu = mode === "gpu";
  // An integer in range; else, in gpu mode a problem, in cpu mode (unused) the text as given.
  const int = (name, min, max) => {
    const text = String(params[name] ?? "").trim();
    const value = Number(text);
    if (text !== "" && Number.isInteger(value) && value >= min && value <= max) return value;
    if (gpu) problems.push(`${name} must be an integer from ${min} to ${max}, got "${text}"`);
    return gpu ? undefined : text;
  };
  const ids = (name, pattern, what, min, max) => {
    const values = list(params[name] ?? "");
    if (!gpu) return values;
    if (values.length < min || values.length > max) {
      problems.push(
        values.length === 0
          ? `${name} is required with compute=gpu: ${what}, comma-separated`
          : `${name} takes ${min} to ${max} ${what}, got ${values.length}`,
      );
    }
    for (const value of values) if (!pattern.test(value)) problems.push(`${name}: "${value}" is not ${what}`);
    return values;
  };

  const imageUri = String(params.gpuImageUri ?? "").trim();
  if (gpu && imageUri === "") {
    problems.push(
      "gpuImageUri is required with compute=gpu: the lambda-gpu image in ECR (container/Dockerfile), " +
        "<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<digest> or :<tag>",
    );
  } else if (gpu && !ECR_IMAGE.test(imageUri)) {
    problems.push(`gpuImageUri must name an image in Amazon ECR by digest or tag, got "${imageUri}"`);
  }
  const subnetIds = ids("gpuSubnetIds", SUBNET, "subnet IDs (subnet-...)", 1, 16);
  const securityGroupIds = ids("gpuSecurityGroupIds", SECURITY_GROUP, "security group IDs (sg-...)", 1, 5);
  const instanceTypes = ids(
    "gpuInstanceTypes",
    GPU_INSTANCE_TYPE,
    "NVIDIA GPU instance types (g6.xlarge)",
    1,
    30,
  );
  for (const type of instanceTypes) {
    if (gpu && GRAVITON_GPU.test(type)) {
      problems.push(`gpuInstanceTypes: ${type} is arm64 (Graviton); GPU functions run on x86_64 only`);
    }
  }
  const acceleratorMemory = int("gpuAcceleratorMemory", 1, 48);
  if (gpu && acceleratorMemory !== undefined && !ACCELERATOR_MEMORY_GIB.includes(acceleratorMemory)) {
    problems.push(
      `gpuAcceleratorMemory must be one of ${ACCELERATOR_MEMORY_GIB.join(", ")} (GiB), got ${acceleratorMemory}`,
    );
  }
  const concurrency = int("gpuConcurrency", 1, 1600);
  const maxVCpus = int("gpuMaxVCpus", 2, 15000);

  if (problems.length > 0) throw new ComputeParamsError(problems);
  return {
    mode,
    imageUri,
    subnetIds,
    securityGroupIds,
    instanceTypes,
    acceleratorMemory,
    concurrency,
    maxVCpus,
  };
}

/** osls's entry: reads the parameters through its resolver, then checks them. */
async function resolveCompute({ resolveVariable }) {
  const params = {};
  for (const name of PARAMS) params[name] = await resolveVariable(`param:${name}`);
  return checkCompute(params);
}

module.exports = resolveCompute;
module.exports.checkCompute = checkCompute;
module.exports.ACCELERATOR_MEMORY_GIB = ACCELERATOR_MEMORY_GIB;
