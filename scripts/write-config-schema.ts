/**
 * `npm run schema`: writes config.schema.json from the configuration's own
 * declaration, and the copy the Helm chart embeds in values.schema.json.
 * The tests fail while either is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { CONFIG_SCHEMA_FILE, configJsonSchema } from '../src/config/index.js';

const root = new URL('../', import.meta.url);
const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

const schema = configJsonSchema();
writeFileSync(new URL(CONFIG_SCHEMA_FILE, root), json(schema));

// The chart's copy is its own resource, so the schema's references resolve inside it.
const chartFile = new URL('helm/rosgate/values.schema.json', root);
const chart = JSON.parse(readFileSync(chartFile, 'utf8'));
const { $schema: _dialect, ...published } = schema;
chart.$defs.rosgateConfig = { $id: CONFIG_SCHEMA_FILE, ...published };
writeFileSync(chartFile, json(chart));
