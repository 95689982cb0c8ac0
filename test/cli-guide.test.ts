import t from 'tap';
import { runCli, type Running } from '../src/cli.js';
import { cliIo } from './fixtures/wire-cli.js';
import { startTestSimulator } from './fixtures/stack.js';

t.test(
  'at start each guide variable with no meaning here is named in one warning, and the rest are read',
  async (t) => {
    const sim = await startTestSimulator(t, { user: 'admin', password: 'secret' });
    const io = cliIo({
      LOG_LEVEL: 'info',
      AUDIT_LOG_DIR: t.testdir(),
      MIKROTIK_HOST: '127.0.0.1',
      MIKROTIK_PORT: String(sim.port),
      MIKROTIK_PASSWORD: 'secret',
      PROXY_HOST: '127.0.0.1',
      PROXY_PORT: '0',
      PORT: '3000',
      JWT_SECRET: 'a-secret-that-must-never-be-logged',
      REQUEST_QUEUE_MAX_SIZE: '500',
    });
    const running = (await runCli([], io)) as Running;
    t.teardown(() => running.stop());
    const lines = io
      .out()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const ignored = lines.filter((l) => l['code'] === 'ROSGATE_CONFIG_IGNORED_VARIABLE');
    t.match(ignored, [
      { level: 40, path: 'PORT', msg: /^PORT is ignored \(the guide's HTTP API port/ },
      { level: 40, path: 'JWT_SECRET', msg: /^JWT_SECRET is ignored/ },
    ]);
    t.equal(
      ignored.length,
      2,
      'one warning each; REQUEST_QUEUE_MAX_SIZE is read, not warned about',
    );
    t.notMatch(io.out(), 'a-secret-that-must-never-be-logged', 'a value is never logged');
  },
);
