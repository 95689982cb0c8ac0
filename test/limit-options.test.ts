import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import { DEFAULT_LIMITS, type LimitsConfig } from '../src/config/index.js';
import { limitOptions } from '../src/limit-options.js';
import { appliesOf } from '../src/reconfigure.js';

t.test('every key of limits sets an option, the one mapping for start and reload', async (t) => {
  const before = limitOptions(DEFAULT_LIMITS);
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof LimitsConfig)[]) {
    const value = DEFAULT_LIMITS[key];
    const changed = {
      ...DEFAULT_LIMITS,
      [key]: typeof value === 'number' ? Math.max(1, Math.floor(value / 2)) : 'trap',
    } as LimitsConfig;
    t.notOk(isDeepStrictEqual(limitOptions(changed), before), `${key} reaches an option`);
  }
});

t.test(
  'the listen backlog and the clients’ code page are the keys a reload cannot apply, and says so',
  async (t) => {
    const keys = Object.keys(DEFAULT_LIMITS).map((key) => `limits.${key}`);
    t.same(
      keys.filter((key) => appliesOf(key) === 'restart'),
      ['limits.listenBacklog', 'limits.clientCodePage'],
    );
  },
);

t.test('before login the decoder limits are those of a login sentence', async (t) => {
  const options = limitOptions({
    ...DEFAULT_LIMITS,
    maxWordBytes: 100,
    maxWordsPerSentence: 10,
    preLoginMaxSentenceBytes: 8192,
  });
  t.same(options.session.preLoginDecoderLimits, {
    maxWordBytes: 100,
    maxWordsPerSentence: 10,
    maxSentenceBytes: 8192,
  });
  t.same(limitOptions(DEFAULT_LIMITS).session.preLoginDecoderLimits, {
    maxWordBytes: 8192,
    maxWordsPerSentence: 32,
    maxSentenceBytes: 8192,
  });
});
