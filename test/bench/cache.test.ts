import t from 'tap';
import { smokeTest } from '../fixtures/bench-smoke.js';

t.setTimeout(240_000);

t.test(
  'the cache bench runs with the cache off, on and with integrity and reports router commands',
  (t) =>
    smokeTest(
      t,
      'cache',
      ['--seconds', '1', '--instances', '1'],
      [
        'instances',
        'seconds',
        'latencyMs',
        'latencyPer100RowsMs',
        'directCmdPerSec',
        'cacheOffCmdPerSec',
        'cacheOnCmdPerSec',
        'integrityCmdPerSec',
        'throughputRatio',
        'throughputRatioCacheOff',
        'directP50Ms',
        'cacheOffP50Ms',
        'cacheOnP50Ms',
        'integrityP50Ms',
        'routerCommandsPerClientCommand',
        'routerCommandsPerClientCommandCacheOff',
        'routerCommandsPerClientCommandDirect',
        'directRouterCmdPerSec',
        'cacheOffRouterCmdPerSec',
        'cacheOnRouterCmdPerSec',
      ],
      ['throughputGoalMet', 'routerCommandsGoalMet'],
    ),
);
