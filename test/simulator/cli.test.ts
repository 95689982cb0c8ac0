import t from 'tap';
import { PassThrough } from 'node:stream';
import { isRosgateError } from '../../src/errors.js';
import { parseSimulateArgs, runSimulateCommand } from '../../src/simulator/cli.js';
import { startSimulator } from '../../src/simulator/index.js';
import { connectApi } from '../fixtures/stack.js';

t.test('the simulate command starts a simulator from flags and says how to connect', async (t) => {
  const out = new PassThrough();
  const sim = await runSimulateCommand(
    [
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--user',
      'admin',
      '--password',
      'secret',
      '--version',
      '7.17',
      '--seed',
      '3',
      '--hotspot-users',
      '7',
      '--control-port',
      '0',
      '--latency-ms',
      '0',
    ],
    out,
  );
  t.teardown(() => sim.close());
  const line = String(out.read());
  t.match(
    line,
    new RegExp(
      `RouterOS 7.17 API simulator listening on 127.0.0.1:${sim.port}; connect with user admin and the given password; control port http://127.0.0.1:\\d+/counters`,
    ),
  );
  const api = await connectApi(sim.port, { password: 'secret' });
  t.teardown(() => api.close());
  t.equal((await api.write('/ip/hotspot/user/print')).length, 7);
});

t.test('flags map to options, with port 8728 by default', async (t) => {
  t.same(parseSimulateArgs([]), { port: 8728 });
  t.same(
    parseSimulateArgs([
      '--ppp-secrets',
      '4',
      '--max-sessions',
      '2',
      '--row-latency-ms',
      '5',
      '--stream-interval-ms',
      '10',
      '--one-command-at-a-time',
      '--tag-position',
      'last',
      '--refuse-listen',
      'proplist',
    ]),
    {
      port: 8728,
      pppSecrets: 4,
      maxSessions: 2,
      rowLatencyMs: 5,
      streamIntervalMs: 10,
      oneCommandAtATime: true,
      tagPosition: 'last',
      refuseListen: 'proplist',
    },
  );
  const out = new PassThrough();
  const sim = await runSimulateCommand(['--port', '0'], out);
  t.teardown(() => sim.close());
  t.match(String(out.read()), /user admin and an empty password\n$/);
});

t.test('the behaviours the protocol notes leave unconfirmed can be chosen by flag', async (t) => {
  t.same(
    parseSimulateArgs([
      '--interfaces',
      '8',
      '--max-commands-per-session',
      '4',
      '--max-backlog-bytes',
      '4096',
      '--pre-login-max-sentences',
      '3',
      '--too-many-sessions',
      'close',
      '--cancel-unknown-tag',
      'trap',
      '--failed-login-closes',
      '--empty-replies',
      'off',
      '--not-logged-in-message',
      'login first',
      '--no-such-item-message',
      'no such item (4)',
      '--user-add',
      'billing:pa:ss',
      '--user-add',
      'ops:x',
    ]),
    {
      port: 8728,
      interfaces: 8,
      maxCommandsPerSession: 4,
      maxBacklogBytes: 4096,
      preLoginMaxSentences: 3,
      tooManySessions: 'close',
      cancelUnknownTagReply: 'trap',
      failedLoginCloses: true,
      emptyReplies: false,
      notLoggedInMessage: 'login first',
      noSuchItemMessage: 'no such item (4)',
      users: { billing: 'pa:ss', ops: 'x' },
    },
  );
  t.same(parseSimulateArgs(['--empty-replies', 'on']), { port: 8728, emptyReplies: true });
  const sim = await runSimulateCommand(
    ['--port', '0', '--user-add', 'billing:pw', '--no-such-item-message', 'no such item (4)'],
    new PassThrough(),
  );
  t.teardown(() => sim.close());
  const api = await connectApi(sim.port, { user: 'billing', password: 'pw' });
  t.teardown(() => api.close());
  await t.rejects(api.write('/ip/hotspot/user/remove', ['=.id=*FFFF']), {
    message: 'no such item (4)',
  });
});

t.test('bad flags give an error naming the flag', async (t) => {
  const message = (argv: string[]): string => {
    try {
      parseSimulateArgs(argv);
    } catch (err) {
      t.ok(isRosgateError(err, 'ROSGATE_CONFIG'));
      return (err as Error).message;
    }
    return '';
  };
  t.match(message(['--port', 'abc']), /--port must be a non-negative integer, got 'abc'/);
  t.match(message(['--colour', 'red']), /--colour/);
  t.match(message(['--hotspot-users', '-5']), /--hotspot-users/);
  t.match(message(['extra']), /extra/);
  t.match(
    message(['--tag-position', 'middle']),
    /--tag-position must be first or last, got 'middle'/,
  );
  t.match(
    message(['--refuse-listen', 'yes']),
    /--refuse-listen must be off, proplist or always, got 'yes'/,
  );
  t.match(
    message(['--too-many-sessions', 'drop']),
    /--too-many-sessions must be fatal or close, got 'drop'/,
  );
  t.match(message(['--user-add', 'nopassword']), /--user-add must be name:password/);
  t.match(message(['--user-add', ':pw']), /--user-add must be name:password/);
  t.match(
    message(['--user-add', 'admin:x']),
    /--user-add admin: that is the --user account; give its password with --password/,
  );
  t.match(message(['--user', 'ops', '--user-add', 'ops:x']), /--user-add ops: that is the --user/);
  t.match(message(['--empty-replies', 'toString']), /--empty-replies must be on or off/);
  await t.rejects(startSimulator({ tagPosition: 'middle' as 'first' }), {
    message: /tagPosition must be 'first' or 'last'/,
  });
  await t.rejects(startSimulator({ duplicateTags: 'both' as 'first' }), {
    message: /duplicateTags must be 'first' or 'last'/,
  });
  await t.rejects(startSimulator({ refuseListen: 'yes' as 'off' }), {
    message: /refuseListen must be 'off', 'proplist' or 'always'/,
  });
  await t.rejects(runSimulateCommand(['--port', '0', '--version', 'x'], new PassThrough()), {
    message: /version must look like/,
  });
});
