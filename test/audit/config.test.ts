import t from 'tap';
import { ENV_BINDINGS, SECTIONS, validateConfig } from '../../src/config/index.js';
import { problemsOf } from '../config/fixtures/helpers.js';

t.test('the audit section defaults follow the guide', async (t) => {
  t.same(SECTIONS.audit.defaults, {
    enabled: true,
    toFile: true,
    dir: 'logs/audit',
    bufferSize: 100,
    flushIntervalMs: 5000,
    syncIntervalMs: 1000,
    thread: true,
    maxQueued: 10_000,
    maxFileBytes: 104_857_600,
    retentionDays: 365,
    maxTotalBytes: 0,
    maxReplyRows: 100,
    levels: [],
    redact: [],
    integrity: { enabled: false, keyEnv: 'AUDIT_INTEGRITY_KEY' },
    encryption: { enabled: false, keyEnv: 'AUDIT_ENCRYPTION_KEY' },
  });
});

t.test('the guide environment variables set audit keys', async (t) => {
  const env = new Map(ENV_BINDINGS.map((binding) => [binding.name, binding]));
  const expected = {
    ENABLE_AUDIT_LOGGING: ['audit', 'enabled'],
    AUDIT_LOG_TO_FILE: ['audit', 'toFile'],
    AUDIT_LOG_DIR: ['audit', 'dir'],
    AUDIT_BUFFER_SIZE: ['audit', 'bufferSize'],
    AUDIT_FLUSH_INTERVAL: ['audit', 'flushIntervalMs'],
    AUDIT_SYNC_INTERVAL: ['audit', 'syncIntervalMs'],
    AUDIT_THREAD: ['audit', 'thread'],
    AUDIT_LOG_RETENTION_DAYS: ['audit', 'retentionDays'],
    AUDIT_LOG_MAX_TOTAL_BYTES: ['audit', 'maxTotalBytes'],
    ENABLE_AUDIT_INTEGRITY: ['audit', 'integrity', 'enabled'],
    ENABLE_AUDIT_ENCRYPTION: ['audit', 'encryption', 'enabled'],
  };
  for (const [name, keys] of Object.entries(expected)) t.same(env.get(name)?.keys, keys, name);
});

t.test('bad audit settings are named by path and rule', async (t) => {
  const problems = problemsOf(() =>
    validateConfig({
      audit: {
        bufferSize: 0,
        levels: [{ path: '/ip/**', level: 'everything' }],
        integrity: { enabled: true, key: 'inline' },
      },
    }),
  );
  t.same(problems, [
    'audit.bufferSize must be >= 1',
    'audit.levels[0].level must be one of none, metadata, request, full',
    'audit.integrity.key is not a known key',
  ]);
});

t.test('audit.maxTotalBytes is 0 or at least audit.maxFileBytes', async (t) => {
  t.same(
    problemsOf(() => validateConfig({ audit: { maxFileBytes: 4096, maxTotalBytes: 2048 } })),
    ['audit.maxTotalBytes must be 0 or at least audit.maxFileBytes'],
  );
  t.same(
    problemsOf(() =>
      validateConfig({ audit: { maxFileBytes: 4096 } }, { AUDIT_LOG_MAX_TOTAL_BYTES: '2048' }),
    ),
    ['AUDIT_LOG_MAX_TOTAL_BYTES must be 0 or at least audit.maxFileBytes'],
  );
  const { config } = validateConfig({}, { AUDIT_LOG_MAX_TOTAL_BYTES: '805306368' });
  t.equal(config.audit.maxTotalBytes, 805306368);
  for (const off of [{ enabled: false }, { toFile: false }]) {
    t.doesNotThrow(
      () => validateConfig({ audit: { maxFileBytes: 4096, maxTotalBytes: 2048, ...off } }),
      `no bound to meet with ${JSON.stringify(off)}`,
    );
  }
});
