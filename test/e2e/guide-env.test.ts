import t from 'tap';
import { Writable } from 'node:stream';
import { createApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/logger.js';
import { openRaw } from '../fixtures/raw-client.js';
import { startTestSimulator } from '../fixtures/stack.js';

// The guide's variables as an operator sets them, through the wired app.

t.test(
  'SESSION_TIMEOUT closes idle logged-in clients and ENABLE_MONITORING=false opens no admin port',
  async (t) => {
    const sim = await startTestSimulator(t, { user: 'admin', password: 'secret' });
    const dir = t.testdir();
    const { config } = validateConfig(
      { log: { level: 'info' }, audit: { dir } },
      {
        MIKROTIK_HOST: '127.0.0.1',
        MIKROTIK_PORT: String(sim.port),
        MIKROTIK_USERNAME: 'admin',
        MIKROTIK_PASSWORD: 'secret',
        PROXY_HOST: '127.0.0.1',
        PROXY_PORT: '0',
        MONITORING_PORT: '0',
        SESSION_TIMEOUT: '150',
        ENABLE_MONITORING: 'false',
      },
    );
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const app = createApp(config, createLogger('info', sink));
    await app.start();
    t.teardown(() => app.stop(0));
    t.equal(app.adminPort, undefined, 'no admin port');
    t.match(lines.join(''), /admin port off/);

    const client = await openRaw(t, app.routers[0]?.port as number, {
      user: 'admin',
      password: 'secret',
    });
    // untilClosed fails loudly if the connection is still open after its read timeout.
    const last = await client.untilClosed();
    t.ok(last.length <= 1, 'rosgate closed the idle client (at most a !fatal first)');
  },
);
