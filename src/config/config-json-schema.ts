/**
 * The JSON Schema of the whole configuration file, published as
 * `config.schema.json` (`npm run schema` writes it) for editors, and
 * embedded in the Helm chart's values.schema.json. Generated from the
 * configuration's one declaration (schema.ts).
 */
import { z } from 'zod';
import { configSchema } from './schema.js';
import { settingOf } from './settings.js';

/** A JSON Schema (2020-12) object. */
export type JsonSchema = { [keyword: string]: unknown };

/** The name the schema is published under, next to config.yaml. */
export const CONFIG_SCHEMA_FILE = 'config.schema.json';

/**
 * Every mapping's keys may also be null: rosgate reads an empty key (YAML's
 * `pool:` with everything under it commented out) as absent. Said of the
 * mappings and lists, where it happens; list items stay what they are.
 */
function allowNull(schema: JsonSchema): void {
  const properties = schema['properties'] as Record<string, JsonSchema> | undefined;
  for (const child of Object.values(properties ?? {})) {
    const type = child['type'];
    if (type === 'object' || type === 'array') child['type'] = [type, 'null'];
    allowNull(child);
  }
  const items = schema['items'] as JsonSchema | undefined;
  if (items !== undefined) allowNull(items);
  const additional = schema['additionalProperties'];
  if (typeof additional === 'object' && additional !== null) allowNull(additional as JsonSchema);
  for (const part of (schema['anyOf'] as JsonSchema[] | undefined) ?? []) allowNull(part);
}

/** A key an environment variable can give is not required of the file (`MIKROTIK_HOST`). */
function notRequiredWhenEnvGives(ctx: {
  zodSchema: z.core.$ZodType;
  jsonSchema: JsonSchema;
}): void {
  const { zodSchema, jsonSchema } = ctx;
  const required = jsonSchema['required'];
  if (!(zodSchema instanceof z.ZodObject) || !Array.isArray(required)) return;
  const shape = zodSchema.shape as Record<string, z.ZodType>;
  const left = required.filter(
    (key: string) => settingOf(shape[key] as z.ZodType).env === undefined,
  );
  if (left.length > 0) jsonSchema['required'] = left;
  else delete jsonSchema['required'];
}

/**
 * The JSON Schema (draft 2020-12) of rosgate's configuration file: what
 * may be written (the schema's input side, so keys with defaults are
 * optional). rosgate checks more than a schema can say (passwords that must
 * resolve, files that must parse, unique router names and ports), and names
 * each problem with its path.
 */
export function configJsonSchema(): JsonSchema {
  const { $schema, ...schema } = z.toJSONSchema(configSchema, {
    io: 'input',
    override: notRequiredWhenEnvGives,
  }) as JsonSchema;
  allowNull(schema);
  return {
    $schema,
    title: 'rosgate configuration',
    description:
      "rosgate's config.yaml. Environment variables override it (see config.yaml); rosgate checks a few rules more when it loads and names each problem with its path.",
    ...schema,
  };
}
