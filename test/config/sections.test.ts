import t from 'tap';
import { z } from 'zod';
import {
  ENV_BINDINGS,
  SECTIONS,
  configSchema,
  parseSetting,
  validateConfig,
} from '../../src/config/index.js';
import { problemsOf } from './fixtures/helpers.js';

/** A section that uses every kind of rule a stage's schema may have. */
const demoSchema = z
  .object({
    count: z.number().int().min(1).max(10).default(1),
    ratio: z.number().gt(0).lt(1).default(0.5),
    name: z.string().min(1).max(8).default('demo'),
    code: z.string().min(3).default('abc'),
    flag: z.boolean().default(false),
    mode: z.enum(['fast', 'safe']).default('safe'),
    tags: z.array(z.string()).min(1).max(2).default(['a']),
    pair: z.array(z.string()).min(2).default(['a', 'b']),
    lookup: z.record(z.string(), z.number()).default({}),
    nested: z
      .object({ depth: z.number().default(1) })
      .strict()
      .prefault({}),
    rules: z
      .array(z.object({ path: z.string().regex(/^\//, 'must start with /') }).strict())
      .default([]),
    word: z
      .string()
      .regex(/^[a-z]+$/)
      .default('abc'),
    big: z.bigint().optional(),
  })
  .strict()
  .prefault({});
const defaults = demoSchema.parse({});

/** The problems the demo section finds in `raw`, and what it returns. */
function check(raw: unknown, origins: ReadonlyMap<string, string> = new Map()) {
  const { problems, value } = parseSetting(demoSchema, raw, ['demo'], origins);
  return { problems, value: value ?? defaults };
}

t.test('a section given nothing is its defaults', (t) => {
  t.match(defaults, { count: 1, mode: 'safe', nested: { depth: 1 }, rules: [] });
  for (const raw of [undefined, {}]) t.same(check(raw), { problems: [], value: defaults });
  t.end();
});

t.test('a stage section carries its key, schema and the defaults its schema gives', (t) => {
  for (const [key, section] of Object.entries(SECTIONS)) {
    t.equal(section.key, key);
    t.equal(section.schema, configSchema.shape[key as keyof typeof SECTIONS].unwrap(), key);
    t.same(section.defaults, section.schema.parse({}));
  }
  t.end();
});

t.test('a valid section is read as written', (t) => {
  const { problems, value } = check({ count: 10, mode: 'fast', rules: [{ path: '/ip' }] });
  t.same(problems, []);
  t.match(value, { count: 10, mode: 'fast', rules: [{ path: '/ip' }], ratio: 0.5 });
  t.end();
});

const wording: [rule: string, raw: Record<string, unknown>, problems: string[]][] = [
  ['a number below an inclusive minimum', { count: 0 }, ['demo.count must be >= 1']],
  ['a number above an inclusive maximum', { count: 11 }, ['demo.count must be <= 10']],
  ['a number at an exclusive minimum', { ratio: 0 }, ['demo.ratio must be > 0']],
  ['a number at an exclusive maximum', { ratio: 1 }, ['demo.ratio must be < 1']],
  ['a fraction where an integer belongs', { count: 1.5 }, ['demo.count must be an integer']],
  ['text where a number belongs', { count: 'ten' }, ['demo.count must be a number']],
  ['a number where text belongs', { name: 7 }, ['demo.name must be a string']],
  ['text where a boolean belongs', { flag: 'yes' }, ['demo.flag must be a boolean']],
  ['an empty string', { name: '' }, ['demo.name must not be empty']],
  ['a string too short', { code: 'ab' }, ['demo.code must have at least 3 characters']],
  ['a string too long', { name: 'ninechars' }, ['demo.name must have at most 8 characters']],
  ['an empty list', { tags: [] }, ['demo.tags must have at least 1 item']],
  ['a list too short', { pair: ['a'] }, ['demo.pair must have at least 2 items']],
  ['a list too long', { tags: ['a', 'b', 'c'] }, ['demo.tags must have at most 2 items']],
  ['a scalar where a mapping belongs', { nested: 3 }, ['demo.nested must be a mapping']],
  ['a list where a mapping of names belongs', { lookup: [] }, ['demo.lookup must be a mapping']],
  ['a mapping where a list belongs', { tags: {} }, ['demo.tags must be a list']],
  ['a type YAML has no word for', { big: 1 }, ['demo.big must be of type bigint']],
  ['a value not among the choices', { mode: 'slow' }, ['demo.mode must be one of fast, safe']],
  [
    'every unknown key, at any depth',
    { colour: 1, nested: { depth: 2, width: 3, height: 4 } },
    [
      'demo.nested.width is not a known key',
      'demo.nested.height is not a known key',
      'demo.colour is not a known key',
    ],
  ],
  [
    "a schema's own rule, already in the config's wording, in a list item",
    { rules: [{ path: '/ok' }, { path: 'ip' }] },
    ['demo.rules[1].path must start with /'],
  ],
];

for (const [rule, raw, problems] of wording) {
  t.test(`a zod section names ${rule} by path and rule`, (t) => {
    t.same(check(raw), { problems, value: defaults });
    t.end();
  });
}

t.test("zod's own message for any other rule is kept after `is invalid:`", (t) => {
  const { problems } = check({ word: 'ABC' });
  t.equal(problems.length, 1);
  t.match(problems[0], /^demo\.word is invalid: \S/);
  t.end();
});

t.test('a value set by an environment variable is named by the variable', (t) => {
  t.same(check({ count: 0 }, new Map([['demo.count', 'DEMO_COUNT']])).problems, [
    'DEMO_COUNT must be >= 1',
  ]);
  t.end();
});

t.test('every variable is listed with its key path from the root and its type', (t) => {
  const variables = new Map(ENV_BINDINGS.map((binding) => [binding.name, binding]));
  t.match(variables.get('RATE_LIMIT_BUCKET_SIZE'), {
    keys: ['flow', 'rateLimit', 'bucketSize'],
    type: 'number',
  });
  t.match(variables.get('ENABLE_CACHING'), { keys: ['cache', 'enabled'], type: 'boolean' });
  t.match(variables.get('AUDIT_LOG_DIR'), { keys: ['audit', 'dir'], type: 'string' });
  t.match(variables.get('MAX_CONNECTIONS'), {
    keys: ['routers', 0, 'pool', 'max'],
    type: 'number',
  });
  t.match(variables.get('MIKROTIK_HOST'), { keys: ['routers', 0, 'host'], isRequired: true });
  t.match(variables.get('MIKROTIK_PASSWORD'), { replaces: ['passwordEnv', 'passwordFile'] });
  t.equal(variables.size, ENV_BINDINGS.length, 'no variable sets two keys');
  for (const { name, keys } of ENV_BINDINGS) {
    t.ok((keys[0] as string) in configSchema.shape, `${name} sets a key of a section`);
  }
  t.end();
});

t.test('the stage sections speak the same wording through validateConfig', (t) => {
  t.same(
    problemsOf(() =>
      validateConfig({
        cache: { related: { 'ip hotspot': ['/ip/hotspot/active'] } },
        policy: {
          rules: [
            { name: 'ok', action: 'deny', attributes: [{ name: 'comment', matches: '^vip' }] },
            { name: 'bad', action: 'deny', attributes: [{ name: 'comment', matches: '(' }] },
          ],
        },
      }),
    ),
    [
      'cache.related.ip hotspot must be a menu path starting with /',
      'policy.rules[1].attributes[0].matches must be a valid regular expression',
    ],
  );
  t.same(
    problemsOf(() =>
      validateConfig({ policy: { defaultRole: 'nobody', users: { noc: 'ghost' } } }),
    ),
    ['policy.defaultRole must name a role', 'policy.users.noc must name a role'],
    'rules across keys are named at the key they are about',
  );
  t.end();
});
