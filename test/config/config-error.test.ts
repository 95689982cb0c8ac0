import t from 'tap';
import { createConfigError, formatConfigError } from '../../src/config/index.js';
import { ErrorCode, RosgateError, isRosgateError } from '../../src/errors.js';

t.test('a config error carries its problems and lists them in its message', (t) => {
  const err = createConfigError(['routers[0].port must be an integer 1-65535']);
  t.ok(isRosgateError(err), 'a RosgateError');
  t.equal(err.code, 'ROSGATE_CONFIG');
  t.same(err.details, { problems: ['routers[0].port must be an integer 1-65535'] });
  t.equal(
    err.message,
    'invalid configuration: 1 problem\n  - routers[0].port must be an integer 1-65535',
  );
  t.end();
});

t.test('formatConfigError prints every problem on its own line', (t) => {
  const err = createConfigError(['a must be a mapping', 'b is not a known key']);
  t.equal(
    formatConfigError(err),
    'invalid configuration: 2 problems\n  - a must be a mapping\n  - b is not a known key',
  );
  t.end();
});

t.test('formatConfigError prints the message of any other error', (t) => {
  t.equal(formatConfigError(new Error('disk on fire')), 'disk on fire');
  t.equal(
    formatConfigError(new RosgateError(ErrorCode.Config, 'no problems listed')),
    'no problems listed',
  );
  t.equal(formatConfigError(new RosgateError(ErrorCode.BreakerOpen, 'open')), 'open');
  t.equal(formatConfigError('plain text'), 'plain text');
  t.end();
});
