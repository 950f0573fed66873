// biome-ignore-all lint/suspicious/noExplicitAny: a CloudFormation template is untyped JSON, read by shape
/**
 * `osls package` of serverless.yml offline (deploy/package-offline.ts), and the template read back with its
 * intrinsic functions evaluated: the one helper of the deploy tests of both modes
 * (tests/unit/deploy-template.test.ts for CPU, tests/unit/deploy-gpu.test.ts for GPU).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { oslsPackage, root, startCloudFormationStub } from "../../deploy/package-offline.js";

export { root };

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Template = {
  Resources: Record<string, { Type: string; Condition?: string; DependsOn?: any; Properties: any }>;
} & Record<string, any>;

export interface Packaged {
  /** The packaged CloudFormation template (undefined when osls failed). */
  readonly template: Template | undefined;
  readonly code: number | null;
  /** osls's stdout and stderr. */
  readonly output: string;
  /** What the CloudFormation stub was asked for. */
  readonly actions: string[];
}

/**
 * `osls package` against a fresh stub with `params` and a stand-in layer folder
 * (layers/build/<layerName>-<pid>, removed after); the template read back when it succeeded.
 */
export async function packageWith(layerName: string, params: readonly string[]): Promise<Packaged> {
  const stub = await startCloudFormationStub();
  const outDir = mkdtempSync(join(tmpdir(), "unjpeg-package-"));
  const layerDir = `layers/build/${layerName}-${process.pid}`;
  try {
    mkdirSync(join(root, layerDir, "nodejs"), { recursive: true });
    writeFileSync(join(root, layerDir, "nodejs/package.json"), '{"type":"module"}\n');
    const args = ["--stage", "ci", "--region", "eu-west-1", "--package", outDir];
    for (const param of [...params, `layerDir=${layerDir}`]) args.push("--param", param);
    const { code, output } = await oslsPackage(stub.url, args);
    const template =
      code === 0
        ? (JSON.parse(
            readFileSync(join(outDir, "cloudformation-template-update-stack.json"), "utf8"),
          ) as Template)
        : undefined;
    return { template, code, output, actions: stub.actions };
  } finally {
    stub.server.close();
    rmSync(join(root, layerDir), { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  }
}

/** Evaluates the intrinsic functions this template uses, as CloudFormation would on deploy. */
export function evaluate(value: Json, conditions: Record<string, boolean>): Json | undefined {
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
        if (arg === "AWS::Region") return "eu-west-1";
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
        if (conditions[arg[0]] === undefined) throw new Error(`unknown condition ${arg[0]}`);
        return evaluate(conditions[arg[0]] ? arg[1] : arg[2], conditions);
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

export function conditionsOf(template: Template): Record<string, boolean> {
  const result: Record<string, boolean> = {};
  for (const [name, condition] of Object.entries((template.Conditions ?? {}) as Record<string, any>)) {
    const equals = (args: [string, string]) => args[0] === args[1];
    result[name] = condition["Fn::Not"]
      ? !equals(condition["Fn::Not"][0]["Fn::Equals"])
      : equals(condition["Fn::Equals"]);
  }
  return result;
}

export type Statement = {
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Condition?: any;
};

/** Every statement of a role's inline policies, evaluated. */
export function statements(
  template: Template,
  role: string,
  conditions: Record<string, boolean>,
): Statement[] {
  const policies = (template.Resources[role]?.Properties.Policies ?? []) as any[];
  return policies.flatMap(
    (policy) => (evaluate(policy.PolicyDocument, conditions) as any).Statement as Statement[],
  );
}

export const list = (value: string | string[]): string[] => (Array.isArray(value) ? value : [value]);

/** The resources a role may use for one action (all statements together). */
export function resourcesFor(all: Statement[], action: string): string[] {
  return all.filter((s) => list(s.Action).includes(action)).flatMap((s) => list(s.Resource));
}
