/**
 * The README's variable tables, config.yaml, config.schema.json and the
 * chart's values schema agree with the one declaration of the settings.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import {
  CONFIG_SCHEMA_FILE,
  ENV_BINDINGS,
  configJsonSchema,
  parseConfigYaml,
  sectionSettings,
  validateConfig,
  type SectionKey,
} from '../../src/config/index.js';
import { SHIPPED_CONFIG, uncommentedConfigYaml } from './fixtures/helpers.js';

const read = (path: string): string =>
  readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const README = read('README.md');
const CONFIG_YAML = read('config.yaml');

/** A loaded configuration with every default, and one router. */
const DEFAULTS = validateConfig({ routers: [{ host: 'router.example' }] }).config;

/** The value at `keys` in `node`. */
function valueAt(node: unknown, keys: readonly (string | number)[]): unknown {
  return keys.reduce<unknown>((at, key) => (at as Record<string | number, unknown>)?.[key], node);
}

/** The cells of every row of the README table whose header starts with `header`. */
function tableRows(markdown: string, header: string): string[][] {
  const start = markdown.indexOf(header);
  if (start < 0) return [];
  const lines = markdown.slice(start).split('\n');
  const end = lines.findIndex((line) => !line.startsWith('|'));
  return lines.slice(2, end).map((line) =>
    line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim()),
  );
}

/** `` `A` / `B` `` -> ['A', 'B']. */
const codes = (cell: string): string[] =>
  [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);

/** A documented default as the loaded configuration holds it; undefined when it is prose. */
function documented(cell: string): unknown {
  if (cell === '(empty)') return '';
  if (/^\(.*\)$/.test(cell) || /\s/.test(cell.replace(/ \(.*\)$/, ''))) return undefined;
  const word = cell.replace(/ \(.*\)$/, '').replace(/`/g, '');
  if (/^-?\d+(\.\d+)?$/.test(word)) return Number(word);
  if (word === 'true' || word === 'false') return word === 'true';
  if (word === '[]') return [];
  return word;
}

t.test('the published config.schema.json is the schema the code declares', (t) => {
  t.strictSame(
    JSON.parse(read(CONFIG_SCHEMA_FILE)),
    configJsonSchema(),
    'stale: run `npm run schema` and commit the result',
  );
  t.end();
});

t.test("the chart's values schema embeds the published config schema", (t) => {
  const chart = JSON.parse(read('helm/rosgate/values.schema.json'));
  const { $schema: _dialect, ...published } = configJsonSchema();
  t.strictSame(chart.$defs.rosgateConfig, { $id: CONFIG_SCHEMA_FILE, ...published });
  t.end();
});

t.test('every environment variable is named in the README and in config.yaml', (t) => {
  t.ok(ENV_BINDINGS.length >= 40);
  for (const { name } of ENV_BINDINGS) {
    t.ok(README.includes(`\`${name}\``), `README names ${name}`);
    t.match(CONFIG_YAML, new RegExp(`\\b${name}\\b`), `config.yaml names ${name}`);
  }
  t.end();
});

t.test("the README's variable table gives each variable's default", (t) => {
  const rows = tableRows(README, '| variable ');
  t.ok(rows.length >= 10);
  const byName = new Map(ENV_BINDINGS.map((binding) => [binding.name, binding]));
  for (const [variables = '', defaults = ''] of rows) {
    const names = codes(variables);
    const values = defaults.split(' / ');
    names.forEach((name, i) => {
      const binding = byName.get(name);
      t.ok(binding, `${name} is a variable rosgate reads`);
      const value = documented(values[i] ?? '');
      if (binding !== undefined && value !== undefined) {
        t.same(valueAt(DEFAULTS, binding.keys), value, `${name} defaults to ${String(value)}`);
      }
    });
  }
  t.end();
});

/** The README's `key | variable | default` tables, by the section they document. */
const KEY_TABLES: readonly [heading: string, section: SectionKey][] = [
  ['## Flow control', 'flow'],
  ['## Reply cache', 'cache'],
];

for (const [heading, section] of KEY_TABLES) {
  t.test(`the README's ${section} table agrees with the schema`, (t) => {
    const rows = tableRows(README.slice(README.indexOf(heading)), '| key ');
    const settings = sectionSettings(section);
    t.ok(rows.length >= 10);
    const listed = new Set<string>();
    for (const [keyCell = '', variable = '', defaults = ''] of rows) {
      const [key = ''] = codes(keyCell);
      listed.add(key);
      const known = settings.filter(
        (s) => s.key === key || s.key.startsWith(`${key}.`) || s.key.startsWith(`${key}[]`),
      );
      t.not(known.length, 0, `${section}.${key} is a key of the section`);
      const own = settings.find((s) => s.key === key);
      t.equal(
        codes(variable)[0],
        own?.env,
        `${section}.${key} is set by ${own?.env ?? 'no variable'}`,
      );
      const value = documented(defaults);
      if (value !== undefined) {
        t.same(valueAt(DEFAULTS, [section, ...key.split('.')]), value, `${section}.${key} default`);
      }
    }
    for (const { key, env } of settings) {
      if (env !== undefined) t.ok(listed.has(key), `the table lists ${section}.${key} (${env})`);
    }
    t.end();
  });
}

t.test('config.yaml with every example uncommented loads, and shows the defaults', (t) => {
  const raw = parseConfigYaml(uncommentedConfigYaml(), SHIPPED_CONFIG);
  const { config } = validateConfig(raw, {
    MIKROTIK_ROUTER_PASSWORD: 'router-pw',
    ROSGATE_BILLING_PASSWORD: 'billing-pw',
  });
  const { routers: _r, users: _u, ...sections } = config;
  const { routers: _dr, users: _du, ...defaults } = DEFAULTS;
  t.same(sections, defaults, 'every section is written with its defaults');
  const { host: _host, password: _pw, ...router } = config.routers[0] ?? {};
  const { host: _dh, password: _dp, ...defaultRouter } = DEFAULTS.routers[0] ?? {};
  t.same(router, defaultRouter, 'the example router is written with its defaults');
  t.end();
});

t.test('config.yaml names every key of the core sections', (t) => {
  for (const section of ['routers', 'users', 'limits', 'monitoring', 'log', 'shutdown'] as const) {
    for (const { key } of sectionSettings(section)) {
      t.match(CONFIG_YAML, new RegExp(`\\b${key.split('.').at(-1)}\\b`), `${section}.${key}`);
    }
  }
  t.end();
});

t.test('config.yaml writes out every limit and every pool key', (t) => {
  const raw = parseConfigYaml(uncommentedConfigYaml(), SHIPPED_CONFIG) as {
    routers: { pool: object }[];
    limits: object;
  };
  const keys = (section: SectionKey, under = '') =>
    sectionSettings(section)
      .filter((s) => s.key.startsWith(under))
      .map((s) => s.key.slice(under.length))
      .sort();
  t.same(Object.keys(raw.limits).sort(), keys('limits'));
  t.same(Object.keys(raw.routers[0]?.pool ?? {}).sort(), keys('routers', 'pool.'));
  t.end();
});
