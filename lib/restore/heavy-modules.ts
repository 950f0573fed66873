/**
 * The modules a restore needs beyond its triage. sharp and onnxruntime load on the first image that needs them: skips (and `import "unjpeg"`) stay light.
 * Loaded once: a dynamic import() of a loaded module still costs a round trip through any module loader
 * hooks (tsx: 2–10 ms a restore); a failed load is tried again next time.
 */
let heavyModules: Promise<HeavyModules> | undefined;

export type HeavyModules = typeof import("../image/decode.js") &
  typeof import("../image/encode.js") &
  typeof import("./encode-step.js") &
  typeof import("../model/pipeline.js") &
  typeof import("../model/sessions.js") &
  typeof import("./projection-step.js");

export function loadHeavyModules(): Promise<HeavyModules> {
  heavyModules ??= Promise.all([
    import("../image/decode.js"),
    import("../image/encode.js"),
    import("./encode-step.js"),
    import("../model/pipeline.js"),
    import("../model/sessions.js"),
    import("./projection-step.js"),
  ]).then(
    ([decode, encode, choose, pipeline, sessions, projection]) => ({
      ...decode,
      ...encode,
      ...choose,
      ...pipeline,
      ...sessions,
      ...projection,
    }),
    (error: unknown) => {
      heavyModules = undefined;
      throw error;
    },
  );
  return heavyModules;
}
