// A small draft-07 JSON-schema checker covering the keywords test/data/containerlab/clab.schema.json
// uses (no validator package is installed). Returns the errors as "path: message" strings.
type Schema = Record<string, unknown>;

export function validateJsonSchema(root: Schema, value: unknown): string[] {
  const errors: string[] = [];
  const resolve = (s: Schema): Schema => {
    const ref = s.$ref;
    if (typeof ref !== "string") return s;
    let node: unknown = root;
    for (const part of ref.replace(/^#\//, "").split("/")) node = (node as Record<string, unknown>)[part];
    if (!node) throw new Error(`unresolved $ref ${ref}`);
    return resolve(node as Schema);
  };
  const typeOf = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : Number.isInteger(v) ? "integer" : typeof v);
  const check = (s0: Schema, v: unknown, path: string, out: string[]): void => {
    const s = resolve(s0);
    const t = s.type as string | undefined;
    if (t !== undefined) {
      const actual = typeOf(v);
      const ok = t === actual || (t === "number" && actual === "integer");
      if (!ok) {
        out.push(`${path}: expected ${t}, got ${actual}`);
        return;
      }
    }
    if (Array.isArray(s.enum) && !s.enum.includes(v)) out.push(`${path}: ${JSON.stringify(v)} not in enum`);
    if (typeof s.pattern === "string" && typeof v === "string" && !new RegExp(s.pattern, "u").test(v)) out.push(`${path}: ${JSON.stringify(v)} does not match ${s.pattern}`);
    if (typeof v === "number") {
      if (typeof s.minimum === "number" && v < s.minimum) out.push(`${path}: below minimum`);
      if (typeof s.maximum === "number" && v > s.maximum) out.push(`${path}: above maximum`);
    }
    if (Array.isArray(v)) {
      if (typeof s.minItems === "number" && v.length < s.minItems) out.push(`${path}: fewer than ${s.minItems} items`);
      if (s.uniqueItems === true && new Set(v.map((x) => JSON.stringify(x))).size !== v.length) out.push(`${path}: items not unique`);
      if (s.items) v.forEach((x, i) => check(s.items as Schema, x, `${path}[${i}]`, out));
    }
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      const obj = v as Record<string, unknown>;
      const props = (s.properties ?? {}) as Record<string, Schema>;
      const patterns = (s.patternProperties ?? {}) as Record<string, Schema>;
      for (const r of (s.required ?? []) as string[]) if (!(r in obj)) out.push(`${path}: missing required ${r}`);
      if (typeof s.minProperties === "number" && Object.keys(obj).length < s.minProperties) out.push(`${path}: fewer than ${s.minProperties} properties`);
      for (const [k, x] of Object.entries(obj)) {
        let matched = false;
        if (props[k]) {
          matched = true;
          check(props[k], x, `${path}.${k}`, out);
        }
        for (const [p, ps] of Object.entries(patterns)) {
          if (new RegExp(p, "u").test(k)) {
            matched = true;
            check(ps, x, `${path}.${k}`, out);
          }
        }
        if (!matched && s.additionalProperties === false) out.push(`${path}.${k}: additional property not allowed`);
      }
    }
    if (Array.isArray(s.oneOf)) {
      const passing = (s.oneOf as Schema[]).filter((alt) => {
        const e: string[] = [];
        check(alt, v, path, e);
        return e.length === 0;
      }).length;
      if (passing !== 1) out.push(`${path}: matches ${passing} of oneOf (expected exactly 1)`);
    }
    if (Array.isArray(s.anyOf)) {
      const any = (s.anyOf as Schema[]).some((alt) => {
        const e: string[] = [];
        check(alt, v, path, e);
        return e.length === 0;
      });
      if (!any) out.push(`${path}: matches none of anyOf`);
    }
  };
  check(root, value, "$", errors);
  return errors;
}
