/**
 * The yardstick speeds are given against: a 64→64 3×3 convolution's throughput (GFLOP/s, 2 × multiply-adds)
 * through the same onnxruntime, with the model's session options and threads. These machines' speed
 * swings up to 2× from host to host and minute to minute, so a model's speed is reported as MP/s per
 * 100 GFLOP/s of this, measured in the same run (bench/restore.ts). The graph (bench/fixtures/
 * conv3x3.onnx, 266 bytes) takes its weights as inputs.
 *   node --import tsx bench/conv-throughput.ts [--threads N] [--seconds S]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import ort from "onnxruntime-node";

const GRAPH = join(import.meta.dirname, "fixtures/conv3x3.onnx");

/** GFLOP/s of the convolution on a [1, 64, side, side] input, over about `seconds` of runs after a warm-up. */
export async function convGflops(threads: number, seconds = 2, side = 256): Promise<number> {
  const session = await ort.InferenceSession.create(GRAPH, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    enableMemPattern: false,
    executionMode: "sequential",
    extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
  });
  const random = (n: number, scale: number) =>
    Float32Array.from({ length: n }, () => (Math.random() - 0.5) * scale);
  const feeds = {
    x: new ort.Tensor("float32", random(64 * side * side, 2), [1, 64, side, side]),
    w: new ort.Tensor("float32", random(64 * 64 * 9, 0.1), [64, 64, 3, 3]),
    b: new ort.Tensor("float32", random(64, 0.1), [64]),
  };
  const flops = 2 * 64 * 64 * 9 * side * side;
  try {
    for (let k = 0; k < 2; k++) await session.run(feeds);
    let runs = 0;
    const start = performance.now();
    while (performance.now() - start < seconds * 1000) {
      await session.run(feeds);
      runs++;
    }
    return (runs * flops) / ((performance.now() - start) / 1000) / 1e9;
  } finally {
    await session.release();
  }
}

if (import.meta.filename === process.argv[1]) {
  const { values } = parseArgs({
    options: { threads: { type: "string", default: "2" }, seconds: { type: "string", default: "3" } },
  });
  const gflops = await convGflops(Number(values.threads), Number(values.seconds));
  process.stdout.write(`64→64 3×3 convolution, ${values.threads} threads: ${gflops.toFixed(1)} GFLOP/s\n`);
}
