/**
 * A strict structured-output format for the Responses API (`text.format`)
 * from one of our zod schemas, with the answer parsed back through it (what
 * `client.responses.parse` puts in `output_parsed`).
 *
 * openai's own `zodTextFormat` (openai/helpers/zod) builds the same object,
 * but it also carries a converter for zod 3 schemas that imports `zod/v3`:
 * bundled, that is a second zod (~55 KB minified) in every function drafting
 * with a model. The format's schema is the same; a test compares the two.
 * For schemas without discriminated unions (`toJSONSchema` writes those as
 * `oneOf`, which strict mode refuses).
 */
import { makeParseableTextFormat } from 'openai/lib/parser';
import { toStrictJsonSchema } from 'openai/lib/transform';
import * as z from '../zod.js';

export function textFormat<S extends z.core.$ZodType>(schema: S, name: string) {
  return makeParseableTextFormat<z.output<S>>(
    {
      type: 'json_schema',
      name,
      strict: true,
      // Both sides type a JSON schema differently (zod's and openai's own JSONSchema); the value is plain JSON.
      schema: toStrictJsonSchema(
        z.toJSONSchema(schema, { target: 'draft-7' }) as Record<string, unknown>,
      ) as Record<string, unknown>,
    },
    (content) => z.parse(schema, JSON.parse(content)),
  );
}
