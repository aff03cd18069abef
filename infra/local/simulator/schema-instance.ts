/**
 * Structured output for the simulator: a JSON document that conforms to the
 * strict JSON schema a request names in `text.format` (Responses API), so
 * clients that parse it (`responses.parse` with `zodTextFormat`) get a
 * well-formed answer. The values are placeholders, chosen simply: the first
 * enum value, null where null is allowed, the minimum for numbers, one item
 * per array; but a field whose name mentions a URL gets the first URL of the
 * request's input, even where null is allowed (so a drafted monitor points
 * where the user said).
 */
import type { Json } from './protocol.js';

type Schema = Record<string, unknown>;

const URL_FIELD = /url|uri|link/i;
const URL_IN_TEXT = /\bhttps?:\/\/[^\s"'<>]+[^\s"'<>.,;:!?)]/i;

function resolveRef(schema: Schema, root: Schema): Schema {
  const ref = schema.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/')) return schema;
  let node: unknown = root;
  for (const part of ref.slice(2).split('/')) node = (node as Schema | undefined)?.[part];
  return (node as Schema | undefined) ?? {};
}

function instance(raw: Schema, root: Schema, input: string, field: string, depth: number): unknown {
  const schema = resolveRef(raw, root);
  if (depth > 20) return null;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const branches = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (branches) {
    const nullable = branches.some((b) => resolveRef(b, root).type === 'null');
    if (nullable && !(URL_FIELD.test(field) && URL_IN_TEXT.test(input))) return null;
    if (nullable) return URL_IN_TEXT.exec(input)?.[0];
    return instance(branches[0] ?? {}, root, input, field, depth + 1);
  }
  const type = Array.isArray(schema.type)
    ? schema.type.includes('null')
      ? 'null'
      : schema.type[0]
    : schema.type;
  switch (type) {
    case 'null':
      return URL_FIELD.test(field) && URL_IN_TEXT.test(input) ? URL_IN_TEXT.exec(input)?.[0] : null;
    case 'object': {
      const out: Json = {};
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      for (const [name, property] of Object.entries(properties)) {
        out[name] = instance(property, root, input, name, depth + 1);
      }
      return out;
    }
    case 'array': {
      const count = Math.max(1, Number(schema.minItems ?? 1));
      return Array.from({ length: count }, () =>
        instance((schema.items ?? {}) as Schema, root, input, field, depth + 1),
      );
    }
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 1;
    case 'boolean':
      return false;
    case 'string':
      if (URL_FIELD.test(field)) return URL_IN_TEXT.exec(input)?.[0] ?? 'https://example.com/';
      return `simulated ${field}`.trim();
    default:
      return null;
  }
}

/** A conforming instance of `schema`, or undefined when the request asked for no JSON schema. */
export function structuredOutput(format: unknown, input: string): string | undefined {
  const f = format as { type?: string; schema?: Schema } | undefined;
  if (f?.type !== 'json_schema' || !f.schema) return undefined;
  return JSON.stringify(instance(f.schema, f.schema, input, '', 0));
}
