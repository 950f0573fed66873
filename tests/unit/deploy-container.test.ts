/**
 * container/Dockerfile, checked without Docker (container/check.ts): the files it copies exist and are in
 * the build context, its entry points have sources, and the images are the ones the README promises.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, it } from "node:test";
import { checkDockerfile, parseDockerfile } from "../../container/check.js";
import { copiedInto } from "../../container/stages.js";
import { ALLOCATOR_TUNABLES } from "../../lib/allocator.js";

const root = resolve(import.meta.dirname, "../..");
const dockerfile = join(root, "container/Dockerfile");
const scratch = mkdtempSync(join(tmpdir(), "unjpeg-container-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe("container/Dockerfile", () => {
  it("copies only files that exist in the build context, and names entry points that have sources", () => {
    const result = checkDockerfile(dockerfile, root);
    assert.deepEqual(result.problems, []);
    for (const path of ["package-lock.json", "lib", "handlers", "models/codiff-tiny"]) {
      assert.ok(result.checked.includes(path), `${path} not copied`);
    }
    assert.ok(result.checked.includes("/app/dist/lib/cli/main.js ← lib/cli/main.ts"));
    assert.ok(result.checked.includes("dist/handlers/s3-upload.handler ← handlers/s3-upload.ts"));
    // The full model is the user's export; until it exists the check says so without failing.
    for (const note of result.notes) assert.match(note, /models\/codiff-official/);
  });

  it("builds a CUDA worker image and a CPU Lambda image", () => {
    const steps = parseDockerfile(readFileSync(dockerfile, "utf8"));
    const text = (keyword: string) => steps.filter((s) => s.keyword === keyword).map((s) => s.args);
    const stages = text("FROM");
    assert.ok(
      stages.some((s) => /^\$\{LAMBDA_IMAGE\} AS lambda$/.test(s)),
      "lambda stage",
    );
    assert.ok(
      stages.some((s) => /^\$\{CUDA_IMAGE\} AS gpu$/.test(s)),
      "gpu stage",
    );
    const args = text("ARG").join("\n");
    assert.match(args, /LAMBDA_IMAGE=public\.ecr\.aws\/lambda\/nodejs:22/);
    assert.match(args, /CUDA_IMAGE=nvidia\/cuda:12\.[\d.]+-cudnn-runtime/);
    const runs = text("RUN").join("\n");
    assert.match(runs, /npm ci --ignore-scripts/, "no CUDA download during npm ci");
    assert.match(
      runs,
      /ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install\.js/,
    );
    // The worker's entry point, as the gpu target ends (lambda-gpu, built FROM gpu, sets its own).
    const { stages: targets } = checkDockerfile(dockerfile, root);
    assert.deepEqual(targets.get("gpu")?.entrypoint, [
      "node",
      "--enable-source-maps",
      "/app/dist/lib/cli/main.js",
      "worker",
    ]);
    assert.ok(text("ENV").some((env) => /UNJPEG_EXECUTION_PROVIDER=cuda/.test(env)));
    // Both images run with glibc keeping freed memory (lib/allocator.ts), the worker without re-executing.
    const tuned = text("ENV").filter((env) => env.includes(`GLIBC_TUNABLES=${ALLOCATOR_TUNABLES}`));
    assert.equal(tuned.length, 2);
  });
});

describe("container/Dockerfile, target lambda-gpu", () => {
  const { stages, checked, problems } = checkDockerfile(dockerfile, root);
  const stage = stages.get("lambda-gpu");

  it("is the gpu image (CUDA provider installed at build time, the chosen model) with the Lambda runtime", () => {
    assert.deepEqual(problems, []);
    assert.ok(stage, "no lambda-gpu stage");
    assert.equal(stage.base, "gpu");
    assert.equal(stages.get("gpu")?.base, "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04");
    // onnxruntime-node with libonnxruntime_providers_cuda.so (build-cuda), the model folder, the code.
    const from = (dest: string) => copiedInto(stage, dest);
    assert.equal(from("/app/node_modules/onnxruntime-node")?.from, "build-cuda");
    assert.equal(from("/app/dist/handlers/s3-upload.js")?.from, "build-cuda");
    assert.equal(from("/app/models/full/model.json")?.source, "models/codiff-official");
    assert.equal(stage.env["UNJPEG_MODEL_DIR"], "/app/models/full");
    assert.equal(stage.env["UNJPEG_EXECUTION_PROVIDER"], "cuda");
    assert.equal(stage.env["GLIBC_TUNABLES"], ALLOCATOR_TUNABLES);
    const runs = parseDockerfile(readFileSync(dockerfile, "utf8"))
      .filter((step) => step.keyword === "RUN")
      .map((step) => step.args)
      .join("\n");
    assert.match(runs, /ONNXRUNTIME_NODE_INSTALL=cuda12 .*libonnxruntime_providers_cuda\.so/s);
  });

  it("starts the runtime interface client (4.x: several invocations at once) on one worker thread", () => {
    assert.ok(stage);
    assert.deepEqual(stage.entrypoint, ["/usr/local/bin/lambda-entrypoint"]);
    assert.deepEqual(stage.cmd, ["dist/handlers/s3-upload.handler"]);
    // One thread loads the model once; the invocations in flight share its sessions.
    assert.equal(stage.env["AWS_LAMBDA_NODEJS_WORKER_COUNT"], "1");
    const args = parseDockerfile(readFileSync(dockerfile, "utf8")).filter((step) => step.keyword === "ARG");
    const ric = args.map((step) => /^RIC_VERSION=(\d+)\.\d+\.\d+$/.exec(step.args)).find(Boolean);
    assert.ok(ric && Number(ric[1]) >= 4, "aws-lambda-ric pinned to 4.x or later");
    assert.equal(copiedInto(stage, "/opt/aws-lambda-ric/node_modules/aws-lambda-ric/index.mjs")?.from, "ric");
    for (const line of [
      "lambda-gpu: /usr/local/bin/lambda-entrypoint ← container/lambda-entrypoint.sh",
      "lambda-gpu: /usr/local/bin/node (run by container/lambda-entrypoint.sh) ← COPY in stage gpu",
    ]) {
      assert.ok(checked.includes(line), `${line} not checked`);
    }
    // The script hands the command to the runtime as _HANDLER, from where the code is.
    const script = readFileSync(join(root, "container/lambda-entrypoint.sh"), "utf8");
    assert.match(script, /^export _HANDLER="\$1"$/m);
    const taskRoot = /^export LAMBDA_TASK_ROOT=(\S+)$/m.exec(script)?.[1];
    assert.ok(taskRoot && copiedInto(stage, `${taskRoot}/${stage.cmd[0]!.replace(/\.handler$/, ".js")}`));
  });
});

describe("checkDockerfile", () => {
  it("reports an entry script that runs a program no COPY puts into the image", () => {
    const context = join(scratch, "entry");
    mkdirSync(join(context, "container"), { recursive: true });
    writeFileSync(join(context, "container/start.sh"), "#!/bin/sh\nexec /opt/tool/bin/run /usr/bin/x\n");
    const file = join(context, "container/Dockerfile");
    writeFileSync(
      file,
      [
        "FROM scratch AS base",
        "COPY --from=other /opt/tool /opt/tool",
        "FROM base AS app",
        "COPY container/start.sh /start",
        'ENTRYPOINT ["/start"]',
      ].join("\n"),
    );
    const { problems, checked, stages } = checkDockerfile(file, context);
    assert.deepEqual(problems, ["container/start.sh runs /usr/bin/x, which no COPY puts into the app image"]);
    assert.ok(checked.includes("app: /opt/tool/bin/run (run by container/start.sh) ← COPY in stage base"));
    assert.deepEqual(stages.get("app")?.entrypoint, ["/start"]);
  });

  it("reports a missing source, an ignored source and a handler without a handler export", () => {
    const context = join(scratch, "ctx");
    mkdirSync(join(context, "handlers"), { recursive: true });
    mkdirSync(join(context, "secret"), { recursive: true });
    writeFileSync(join(context, "handlers/plain.ts"), "export const notAHandler = 1;\n");
    mkdirSync(join(context, "container"));
    const file = join(context, "container/Dockerfile");
    writeFileSync(
      file,
      [
        "FROM scratch AS one",
        "COPY missing.txt \\",
        "     /dest/",
        "COPY secret /secret",
        "COPY --from=one /x /y",
        'CMD ["dist/handlers/plain.handler"]',
      ].join("\n"),
    );
    writeFileSync(`${file}.dockerignore`, "secret\n");
    const { problems } = checkDockerfile(file, context);
    assert.equal(problems.length, 3, problems.join("\n"));
    assert.match(problems[0] ?? "", /Dockerfile:2: COPY source missing\.txt is not in the build context/);
    assert.match(problems[1] ?? "", /secret is excluded by/);
    assert.match(problems[2] ?? "", /handlers\/plain\.ts does not export `handler`/);
  });
});
