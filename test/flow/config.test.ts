import t from 'tap';
import { isRosgateError } from '../../src/errors.js';
import { validateConfig } from '../../src/config/index.js';

const ROUTERS = { routers: [{ host: '192.0.2.1', password: 'pw' }] };

function problems(raw: object, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    validateConfig({ ...ROUTERS, ...raw }, env);
  } catch (err) {
    if (isRosgateError(err, 'ROSGATE_CONFIG')) return err.details['problems'] as string[];
    throw err;
  }
  return [];
}

t.test('without a flow section every flow key has its documented default', (t) => {
  const { config } = validateConfig(ROUTERS);
  t.same(config.flow, {
    rateLimit: {
      enabled: true,
      bucketSize: 100,
      refillTokens: 10,
      refillIntervalMs: 100,
      maxQueue: 1000,
      maxWaitMs: 30_000,
    },
    priority: { enabled: true, agingMs: 5000, rules: [] },
    maxConcurrency: 16,
    streamsHoldSlot: false,
    breaker: {
      enabled: true,
      threshold: 5,
      resetTimeoutMs: 60_000,
      monitoringMs: 10_000,
      volumeThreshold: 5,
    },
    maxStreamMs: 0,
    slowCommandMs: 5000,
  });
  t.equal(config.flow.commandIdleTimeoutMs, undefined, "the router's timeoutMs applies");
  t.end();
});

t.test('the guide environment variables set the flow keys', (t) => {
  const { config } = validateConfig(ROUTERS, {
    ENABLE_RATE_LIMITING: 'false',
    RATE_LIMIT_BUCKET_SIZE: '50',
    RATE_LIMIT_REFILL_RATE: '5',
    RATE_LIMIT_REFILL_INTERVAL: '250',
    MAX_RATE_LIMIT_QUEUE: '20',
    ENABLE_PRIORITY_QUEUE: 'no',
    MAX_CONCURRENCY: '4',
    ENABLE_CIRCUIT_BREAKER: 'off',
    CIRCUIT_BREAKER_THRESHOLD: '3',
    CIRCUIT_BREAKER_TIMEOUT: '30000',
    CIRCUIT_BREAKER_MONITORING: '5000',
    SLOW_QUERY_THRESHOLD: '2000',
  });
  t.match(config.flow, {
    rateLimit: {
      enabled: false,
      bucketSize: 50,
      refillTokens: 5,
      refillIntervalMs: 250,
      maxQueue: 20,
    },
    priority: { enabled: false },
    maxConcurrency: 4,
    breaker: { enabled: false, threshold: 3, resetTimeoutMs: 30_000, monitoringMs: 5000 },
    slowCommandMs: 2000,
  });
  t.end();
});

t.test('priority rules are checked: a path glob, a known priority, no other keys', (t) => {
  const { config } = validateConfig({
    ...ROUTERS,
    flow: { priority: { rules: [{ user: 'reports', path: '/**', priority: 'low' }] } },
  });
  t.same(config.flow.priority.rules, [{ user: 'reports', path: '/**', priority: 'low' }]);
  t.same(
    problems({
      flow: { priority: { rules: [{ path: 'ip/address', priority: 'urgent', when: 'now' }] } },
    }).sort(),
    [
      'flow.priority.rules[0].path must be a menu path glob starting with /',
      'flow.priority.rules[0].priority must be one of high, normal, low',
      'flow.priority.rules[0].when is not a known key',
    ],
  );
  t.end();
});

t.test('limits that would stop every command are refused, naming the key', (t) => {
  t.same(
    problems({
      flow: {
        maxConcurrency: 0,
        rateLimit: { bucketSize: 0, refillIntervalMs: 0 },
        breaker: { threshold: 0 },
        commandIdleTimeoutMs: 0,
      },
    }).sort(),
    [
      'flow.breaker.threshold must be >= 1',
      'flow.commandIdleTimeoutMs must be >= 1',
      'flow.maxConcurrency must be >= 1',
      'flow.rateLimit.bucketSize must be >= 1',
      'flow.rateLimit.refillIntervalMs must be >= 1',
    ],
  );
  t.end();
});
