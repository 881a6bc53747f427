import type { Request } from "express";

/**
 * One parameter's problem in Grape's words: the parameter as Grape names it (`job_variables_attributes[0][key]`)
 * and what is wrong with it (`is missing`).
 */
export interface ParamProblem {
  readonly name: string;
  readonly problem: string;
}

/** The parts of the matched operation's (dereferenced) schemas that give the order of declaration. */
interface DeclaredSchema {
  readonly properties?: Readonly<Record<string, DeclaredSchema>>;
  readonly items?: DeclaredSchema;
}

const asDeclared = (value: unknown): DeclaredSchema | undefined =>
  typeof value === "object" && value !== null ? (value as DeclaredSchema) : undefined;

/**
 * Grape runs each parameter's presence check first, then its coercion, then the rest (`values`,
 * `except_values`) in the order they are written (params_scope.rb `validates`).
 */
const rankOf = (problem: string): number => (problem === "is missing" ? 0 : problem === "is invalid" ? 1 : 2);

/**
 * The top-level names the route declares, in order: the operation's `x-grape-params` where Grape's order is
 * not the spec's (a runner's `token` before the path's `id`), then its parameters, then its body's properties.
 */
function declaredNames(req: Pick<Request, "openapi">): { names: string[]; body: DeclaredSchema | undefined } {
  const operation = req.openapi?.schema;
  const grapeOrder: unknown = operation && (operation as Record<string, unknown>)["x-grape-params"];
  const names = Array.isArray(grapeOrder) ? grapeOrder.filter((n): n is string => typeof n === "string") : [];
  for (const p of operation?.parameters ?? []) if ("name" in p && !names.includes(p.name)) names.push(p.name);
  const requestBody = operation?.requestBody;
  const content = requestBody && "content" in requestBody ? Object.values(requestBody.content)[0] : undefined;
  const body = asDeclared(content?.schema);
  for (const name of Object.keys(body?.properties ?? {})) if (!names.includes(name)) names.push(name);
  return { names, body };
}

interface Placed extends ParamProblem {
  /** The index of each named level in its declaration: the parameter's, then a nested field's. */
  readonly declared: readonly number[];
  /** The array indices in the name (`[0]`). */
  readonly elements: readonly number[];
  readonly rank: number;
}

const compareLists = (a: readonly number[], b: readonly number[]): number => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return a.length - b.length;
};

/**
 * The 400 text Grape gives for `problems` (grape's ValidationErrors: the exceptions grouped by parameter, each
 * as `name problem`, duplicates dropped, joined with `, `), in the order its validators ran: the route's
 * parameters in declaration order (`id` of the namespace first, then the route's own, `use :pagination` where
 * it stands), a parameter before its nested fields, and a nested field's validators over every element of
 * its array before the next field's (endpoint.rb `run_validators`, attributes_iterator.rb).
 */
export function grapeValidationMessage(
  req: Pick<Request, "openapi">,
  problems: readonly ParamProblem[],
): string {
  const { names, body } = declaredNames(req);
  const placed = problems.map((p): Placed => {
    const [root = "", ...rest] = p.name.split(/[[\]]+/).filter(Boolean);
    const at = names.indexOf(root);
    const declared = [at < 0 ? names.length : at];
    const elements: number[] = [];
    let schema = asDeclared(body?.properties?.[root]);
    for (const segment of rest) {
      if (/^\d+$/.test(segment)) {
        elements.push(Number(segment));
        schema = asDeclared(schema?.items);
      } else {
        const fields = Object.keys(schema?.properties ?? {});
        const index = fields.indexOf(segment);
        declared.push(index < 0 ? fields.length : index);
        schema = asDeclared(schema?.properties?.[segment]);
      }
    }
    return { ...p, declared, elements, rank: rankOf(p.problem) };
  });
  // A stable sort: problems Grape would order alike keep the order they were found in.
  placed.sort(
    (a, b) => compareLists(a.declared, b.declared) || a.rank - b.rank || compareLists(a.elements, b.elements),
  );
  const byName = new Map<string, string[]>();
  for (const { name, problem } of placed) {
    const texts = byName.get(name) ?? [];
    texts.push(`${name} ${problem}`);
    byName.set(name, texts);
  }
  return [...new Set([...byName.values()].flat())].join(", ");
}
