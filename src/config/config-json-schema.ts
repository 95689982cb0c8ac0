/**
 * The JSON Schema of the whole configuration file, published as
 * `config.schema.json` (`npm run schema` writes it) for editors, and
 * embedded in the Helm chart's values.schema.json.
 */
import { z } from 'zod';
import { CORE_SCHEMAS, nullable, type JsonSchema } from './core-json-schema.js';
import { SECTIONS } from './sections.js';

export type { JsonSchema } from './core-json-schema.js';

/** The name the schema is published under, next to config.yaml. */
export const CONFIG_SCHEMA_FILE = 'config.schema.json';

/**
 * What may be written for a section declared with zod: its input side, so
 * keys with defaults are optional. Its own `$schema` goes: it is a part.
 */
function sectionJsonSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...part } = z.toJSONSchema(schema, { io: 'input' });
  return nullable(part);
}

/**
 * The JSON Schema (draft 2020-12) of rosgate's configuration file: the core
 * sections from the constants validate.ts checks with, and every stage
 * section in `SECTIONS` from its zod schema. rosgate checks more than a
 * schema can say (passwords that must resolve, files that must parse, unique
 * router names and ports), and names each problem with its path.
 */
export function configJsonSchema(): JsonSchema {
  const sections = Object.values(SECTIONS).map((s) => [s.key, sectionJsonSchema(s.schema)]);
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'rosgate configuration',
    description:
      "rosgate's config.yaml. Environment variables override it (see config.yaml); rosgate checks a few rules more when it loads and names each problem with its path.",
    type: 'object',
    additionalProperties: false,
    properties: { ...structuredClone(CORE_SCHEMAS), ...Object.fromEntries(sections) },
  };
}
