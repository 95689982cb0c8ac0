import { readFileSync } from 'node:fs';
import t from 'tap';
import YAML from 'yaml';
import { SECTIONS, validateConfig } from '../../src/config/index.js';
import { isRosgateError } from '../../src/errors.js';

const ROUTERS = [{ host: 'router.example', password: 'router-pw' }];

function problems(cache: unknown): string[] {
  try {
    validateConfig({ routers: ROUTERS, cache }, {});
  } catch (err) {
    if (isRosgateError(err, 'ROSGATE_CONFIG')) return err.details['problems'] as string[];
    throw err;
  }
  return [];
}

t.test('the cache section has defaults for every key', async (t) => {
  const { config } = validateConfig({ routers: ROUTERS }, {});
  t.match(config.cache, {
    enabled: true,
    maxEntries: 1000,
    maxBytes: 64 * 1024 * 1024,
    maxEntryShare: 0.1,
    defaultTtlMs: 300_000,
    maxStaleMs: 60_000,
    integrity: false,
    listen: {
      enabled: true,
      paths: ['/ip/hotspot/user', '/ip/hotspot/user/profile', '/ppp/secret', '/ppp/profile'],
      retryInitialMs: 1000,
      retryMaxMs: 30_000,
    },
  });
  t.ok(config.cache.ttlRules.length > 10);
  t.same(config.cache.related['/ppp/secret'], ['/ppp/active']);
});

t.test('defaults are fresh copies: changing one config leaves the next alone', async (t) => {
  const one = SECTIONS.cache.schema.parse({});
  one.ttlRules.pop();
  one.volatileProperties.pop();
  one.listen.paths.pop();
  (one.related['/ppp/secret'] as string[]).pop();
  const two = SECTIONS.cache.schema.parse({});
  t.equal(two.ttlRules.length, one.ttlRules.length + 1);
  t.equal(two.volatileProperties.length, one.volatileProperties.length + 1);
  t.equal(two.listen.paths.length, 4);
  t.same(two.related['/ppp/secret'], ['/ppp/active']);
});

t.test('environment variables set their keys', async (t) => {
  const { config } = validateConfig(
    { routers: ROUTERS },
    {
      ENABLE_CACHING: 'false',
      CACHE_MAX_SIZE: '50',
      CACHE_DEFAULT_TTL: '1000',
      ENABLE_CACHE_INTEGRITY: 'yes',
    },
  );
  t.match(config.cache, { enabled: false, maxEntries: 50, defaultTtlMs: 1000, integrity: true });
});

t.test('each bad key is named with its rule', async (t) => {
  t.same(
    problems({
      maxEntries: 0,
      maxEntryShare: 2,
      ttlRules: [{ path: 'ip/x', ttlMs: -1 }],
      related: { 'not-a-path': ['/b'], '/a': ['c'] },
      listen: { retryInitialMs: 0, nope: true },
      unknown: 1,
    }).sort(),
    [
      'cache.listen.nope is not a known key',
      'cache.listen.retryInitialMs must be >= 1',
      'cache.maxEntries must be >= 1',
      'cache.maxEntryShare must be <= 1',
      'cache.related./a[0] must be a menu path starting with /',
      'cache.related.not-a-path must be a menu path starting with /',
      'cache.ttlRules[0].path must be a menu path starting with /',
      'cache.ttlRules[0].ttlMs must be >= 0',
      'cache.unknown is not a known key',
    ],
  );
});

t.test('config.yaml documents every key with its default', async (t) => {
  const text = readFileSync(new URL('../../config.yaml', import.meta.url), 'utf8');
  const start = text.indexOf('\n#cache:') + 1;
  // The block ends at the first blank line (another section may follow).
  const end = text.indexOf('\n\n', start);
  const block = text.slice(start, end < 0 ? text.length : end);
  const yaml = block
    .split('\n')
    .filter((line) => line.startsWith('#') && !line.startsWith('##'))
    .map((line) => line.slice(1))
    .join('\n');
  const documented = (YAML.parse(yaml) as { cache: unknown }).cache;
  t.same(SECTIONS.cache.schema.parse(documented), SECTIONS.cache.defaults);
  t.same(Object.keys(documented as object).sort(), Object.keys(SECTIONS.cache.defaults).sort());
});
