import t from 'tap';
import { smokeTest } from '../fixtures/bench-smoke.js';

t.setTimeout(240_000);

t.test('the codec bench decodes with both decoders and reports their rates', (t) =>
  smokeTest(
    t,
    'codec',
    ['--seconds=0.2'],
    [
      'rosgateMBps',
      'rosgateSentencesPerSec',
      'nodeRouterosMBps',
      'nodeRouterosSentencesPerSec',
      'ratio',
    ],
    [],
  ),
);
