/**
 * The JSON Schema for editors and the Helm chart is generated from the
 * same declaration rosgate validates with; what it cannot derive (rules
 * across keys) is written next to the rule. Documents both must judge alike.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { Ajv2020 } from 'ajv/dist/2020.js';
import {
  configJsonSchema,
  configSchema,
  parseConfigYaml,
  validateConfig,
  type SecretFiles,
} from '../../src/config/index.js';
import { isRosgateError } from '../../src/errors.js';
import { ROUTER, SHIPPED_CONFIG, uncommentedConfigYaml } from './fixtures/helpers.js';

const schema = configJsonSchema();
// As the Helm chart's tests compile it: strict, so a keyword Ajv does not know fails.
const matchesSchema = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true }).compile(
  schema,
);

/** The problems rosgate finds in `raw`: none when it loads. */
function problemsIn(raw: unknown, env: NodeJS.ProcessEnv = {}, files?: SecretFiles): string[] {
  try {
    validateConfig(raw, env, files);
    return [];
  } catch (err) {
    if (isRosgateError(err, 'ROSGATE_CONFIG')) return err.details['problems'] as string[];
    throw err;
  }
}

t.test('every call builds a fresh schema, so a caller cannot change the next one', (t) => {
  const first = configJsonSchema() as { properties: Record<string, unknown> };
  delete first.properties['routers'];
  t.ok((configJsonSchema() as { properties: Record<string, unknown> }).properties['routers']);
  t.end();
});

t.test('the schema lists every top-level section rosgate knows, and no other', (t) => {
  const sections = Object.keys(schema['properties'] as object);
  t.same(sections, Object.keys(configSchema.shape));
  for (const key of sections) t.same(problemsIn({ [key]: null }), [], `${key} may be left empty`);
  t.ok(matchesSchema(Object.fromEntries(sections.map((key) => [key, null]))));
  t.notOk(matchesSchema({ rooters: [] }));
  t.same(problemsIn({ rooters: [] }), ['rooters is not a known key (did you mean routers?)']);
  t.end();
});

t.test('the shipped config.yaml names the schema for editors and passes it', (t) => {
  const text = readFileSync(SHIPPED_CONFIG, 'utf8');
  t.match(text, /^# yaml-language-server: \$schema=\.\/config\.schema\.json\n/);
  t.ok(matchesSchema(parseConfigYaml(text, SHIPPED_CONFIG)), JSON.stringify(matchesSchema.errors));
  t.end();
});

t.test('config.yaml with every example uncommented passes the schema', (t) => {
  const raw = parseConfigYaml(uncommentedConfigYaml(), SHIPPED_CONFIG);
  t.ok(matchesSchema(raw), JSON.stringify(matchesSchema.errors));
  t.end();
});

/** The smallest valid document with `value` set at `keys`. */
function documentWith(keys: readonly (string | number)[], value: unknown): unknown {
  const root: Record<string, unknown> = {
    routers: [{ ...ROUTER }],
    users: [{ name: 'billing', passwordEnv: 'BILLING_PW' }],
  };
  let node: Record<string | number, unknown> = root;
  keys.slice(0, -1).forEach((key, i) => {
    node[key] ??= typeof keys[i + 1] === 'number' ? [] : {};
    node = node[key] as Record<string | number, unknown>;
  });
  node[keys[keys.length - 1] as string | number] = value;
  return root;
}
const ENV = { BILLING_PW: 'billing-pw' };

t.test('the smallest document of these tests passes both the schema and rosgate', (t) => {
  t.ok(matchesSchema(documentWith(['log', 'level'], 'info')), JSON.stringify(matchesSchema.errors));
  t.same(problemsIn(documentWith(['log', 'level'], 'info'), ENV), []);
  t.end();
});

interface AgreementCase {
  /** The rule, as a sentence. */
  readonly name: string;
  readonly raw: unknown;
  readonly env?: NodeJS.ProcessEnv;
  readonly files?: SecretFiles;
}

const router = (extra: Record<string, unknown>) => ({ routers: [{ ...ROUTER, ...extra }] });
const TOKEN = 'sixteen-chars-ok';

const refusedByBoth: AgreementCase[] = [
  { name: 'routers is a list', raw: { routers: { host: 'x' } } },
  { name: 'a router is a mapping, not an empty list item', raw: { routers: [null] } },
  { name: 'a router name can be a metric label', raw: router({ name: 'core router' }) },
  { name: 'a host is not empty', raw: router({ host: '' }) },
  { name: 'a YAML number is not a password', raw: router({ password: 1234 }) },
  {
    name: 'a router gives its password one way',
    raw: router({ passwordEnv: 'PW' }),
    env: { PW: 'x' },
  },
  {
    name: 'a TLS listener has both certFile and keyFile, or neither',
    raw: router({ tls: { certFile: 'c.pem' } }),
  },
  { name: 'a TLS anonymous setting is a boolean', raw: router({ tls: { allowAnonymous: 'yes' } }) },
  { name: 'a user has a name', raw: { users: [{ password: 'p' }] } },
  { name: 'a user gives a password', raw: { users: [{ name: 'u' }] } },
  {
    name: 'a user gives one password only',
    raw: { users: [{ name: 'u', password: 'p', passwordHash: 'h' }] },
  },
  {
    name: 'user routers are a list of names',
    raw: { routers: [ROUTER], users: [{ name: 'u', password: 'p', routers: 'default' }] },
  },
  {
    name: 'the admin token has at least 16 characters',
    raw: { monitoring: { token: 'fifteen-chars-x' } },
  },
  {
    name: 'the admin token is given one way',
    raw: { monitoring: { token: TOKEN, tokenEnv: 'ADMIN_TOKEN' } },
    env: { ADMIN_TOKEN: TOKEN },
  },
  {
    name: 'only open endpoints can require the token',
    raw: { monitoring: { requireTokenFor: ['dashboard'] } },
  },
  { name: 'readiness is a mapping', raw: { monitoring: { readiness: true } } },
  {
    name: 'requireRouter is a boolean',
    raw: { monitoring: { readiness: { requireRouter: 'yes' } } },
  },
  { name: 'a stage section knows its keys', raw: { flow: { ratelimit: {} } } },
  { name: 'a stage section checks its values', raw: { cache: { maxEntries: 0 } } },
];

for (const c of refusedByBoth) {
  t.test(`refused by both: ${c.name}`, (t) => {
    t.notOk(matchesSchema(c.raw), 'the schema refuses it');
    t.not(problemsIn(c.raw, c.env).length, 0, 'rosgate refuses it');
    t.end();
  });
}

const acceptedByBoth: AgreementCase[] = [
  {
    name: 'empty keys, as YAML writes them with everything below commented out',
    raw: {
      routers: [{ ...ROUTER, listen: null, tls: null, pool: null }],
      users: null,
      monitoring: { readiness: null },
      flow: null,
    },
  },
  { name: 'a TLS listener without a certificate', raw: router({ tls: { port: 0 } }) },
  {
    name: 'a user with a password from a file, for some routers',
    raw: { routers: [ROUTER], users: [{ name: 'u', passwordFile: 'u.txt', routers: ['default'] }] },
    files: new Map([['u.txt', 'u-pw']]),
  },
  {
    name: 'the admin token from a file, and readiness that waits for the router',
    raw: { monitoring: { tokenFile: 'admin-token', readiness: { requireRouter: true } } },
    files: new Map([['admin-token', `${TOKEN}\n`]]),
  },
  {
    name: 'an inline admin token (with a warning), and user counts polled',
    raw: { monitoring: { token: TOKEN, businessPollMs: 30000 } },
  },
  {
    name: 'a token file that MONITORING_TOKEN overrides, so it is not read',
    raw: { monitoring: { tokenFile: 'admin-token' } },
    env: { MONITORING_TOKEN: TOKEN },
  },
  {
    name: 'the admin token from a variable, required by metrics too',
    raw: { monitoring: { tokenEnv: 'ADMIN_TOKEN', requireTokenFor: ['metrics'] } },
    env: { ADMIN_TOKEN: TOKEN },
  },
  {
    name: 'a router with no host, which MIKROTIK_HOST gives',
    raw: { routers: [{ name: 'core' }] },
    env: { MIKROTIK_HOST: '192.0.2.1' },
  },
];

for (const c of acceptedByBoth) {
  t.test(`accepted by both: ${c.name}`, (t) => {
    t.ok(matchesSchema(c.raw), JSON.stringify(matchesSchema.errors));
    t.same(problemsIn(c.raw, c.env, c.files), [], 'rosgate loads it');
    t.end();
  });
}

/** What only loading can tell: the environment, the files, and rules across keys. */
const onlyRosgateRefuses: (AgreementCase & { readonly problems: string[] })[] = [
  {
    name: 'an admin token variable that is not set',
    raw: { monitoring: { tokenEnv: 'ADMIN_TOKEN' } },
    problems: [
      'monitoring.tokenEnv names the environment variable ADMIN_TOKEN, which is not set or is empty',
    ],
  },
  {
    name: 'a password file that cannot be read',
    raw: router({ password: undefined, passwordFile: 'router.txt' }),
    problems: ['routers[0].passwordFile cannot be read: router.txt (ENOENT)'],
  },
  {
    name: 'a pool whose maximum is below its minimum',
    raw: router({ pool: { min: 4, max: 2 } }),
    problems: ['routers[0].pool.max must be >= routers[0].pool.min'],
  },
  {
    name: 'two routers with one name',
    raw: { routers: [ROUTER, { ...ROUTER, listen: { port: 0 } }] },
    problems: ['routers[1].name is duplicated (first at routers[0].name)'],
  },
];

for (const c of onlyRosgateRefuses) {
  t.test(`the schema lets through what only loading can tell: ${c.name}`, (t) => {
    const raw = JSON.parse(JSON.stringify(c.raw));
    t.ok(matchesSchema(raw), JSON.stringify(matchesSchema.errors));
    t.same(problemsIn(raw, c.env), c.problems);
    t.end();
  });
}
