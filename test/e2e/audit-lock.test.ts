import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { createApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';
import { RawClient } from '../fixtures/raw-client.js';
import { startTestSimulator } from '../fixtures/stack.js';

// One app per audit folder, in one process too: the lock is taken by
// app.start() before any port is bound, and given back by stop() and by a
// start that fails.

function appOn(dir: string, simPort: number, monitoringPort = 0) {
  const { config } = validateConfig({
    routers: [
      {
        host: '127.0.0.1',
        port: simPort,
        password: 'secret',
        listen: { host: '127.0.0.1', port: 0 },
      },
    ],
    monitoring: { host: '127.0.0.1', port: monitoringPort },
    audit: { dir },
  });
  return createApp(config, createLogger('silent', process.stdout));
}

t.test('a second app on a held audit folder fails to start and binds nothing', async (t) => {
  const sim = await startTestSimulator(t, { user: 'admin', password: 'secret' });
  const dir = join(t.testdir(), 'audit');
  const first = appOn(dir, sim.port);
  await first.start();
  t.teardown(() => first.stop(0));
  t.ok(existsSync(join(dir, 'rosgate.lock')));

  const second = appOn(dir, sim.port);
  await t.rejects(second.start(), {
    code: 'ROSGATE_AUDIT_LOCKED',
    message: new RegExp(`^the audit directory ${dir} is held by rosgate pid ${process.pid} `),
  });
  t.equal(second.routers[0]?.port, 0, 'no client port was bound');
  t.equal(second.adminPort, undefined, 'nor the admin port');

  await first.stop(0);
  t.notOk(existsSync(join(dir, 'rosgate.lock')), 'stop gives the folder back');
  await second.start();
  t.teardown(() => second.stop(0));
  t.ok(existsSync(join(dir, 'rosgate.lock')), 'and the next app takes it');
});

t.test('a start that fails on a port in use gives the audit folder back', async (t) => {
  const sim = await startTestSimulator(t, { user: 'admin', password: 'secret' });
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => taken.close(resolve)));
  const dir = join(t.testdir(), 'audit');
  const app = appOn(dir, sim.port, (taken.address() as net.AddressInfo).port);
  await t.rejects(app.start(), { code: 'EADDRINUSE' });
  t.notOk(existsSync(join(dir, 'rosgate.lock')), 'the lock is released');
  await t.rejects(RawClient.connect(app.routers[0]?.port as number), { code: 'ECONNREFUSED' });
  const retry = appOn(dir, sim.port);
  await retry.start();
  t.teardown(() => retry.stop(0));
  t.ok(existsSync(join(dir, 'rosgate.lock')));
});
