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
    assert.deepEqual(text("ENTRYPOINT"), [
      '["node", "--enable-source-maps", "/app/dist/lib/cli/main.js", "worker"]',
    ]);
    assert.ok(text("ENV").some((env) => /UNJPEG_EXECUTION_PROVIDER=cuda/.test(env)));
    // Both images run with glibc keeping freed memory (lib/allocator.ts), the worker without re-executing.
    const tuned = text("ENV").filter((env) => env.includes(`GLIBC_TUNABLES=${ALLOCATOR_TUNABLES}`));
    assert.equal(tuned.length, 2);
  });
});

describe("checkDockerfile", () => {
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
