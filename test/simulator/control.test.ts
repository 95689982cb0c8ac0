import t from 'tap';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { applyFaults } from '../../src/simulator/control.js';
import { openRaw } from '../fixtures/raw-client.js';
import { startTestSimulator } from '../fixtures/stack.js';

function call(
  port: number,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode as number,
          json: JSON.parse(Buffer.concat(chunks).toString()),
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

t.test('the control port serves counters and faults and drops connections', async (t) => {
  const sim = await startTestSimulator(t, { controlPort: 0 });
  const port = sim.controlPort as number;
  t.ok(port > 0);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  const counters = await call(port, 'GET', '/counters');
  t.equal(counters.status, 200);
  t.match(counters.json, { loginsOk: 1, sessionsNow: 1, commands: { '/login': 1 } });
  t.same((await call(port, 'GET', '/faults?x=1')).json, {
    stopAnswering: false,
    latencyMs: 0,
    rowLatencyMs: 0,
    latencyPer100RowsMs: 0,
    refuseConnections: false,
    refuseListen: 'off',
  });
  const set = await call(
    port,
    'POST',
    '/faults',
    JSON.stringify({
      latencyMs: 3,
      rowLatencyMs: 2,
      stopAnswering: true,
      refuseConnections: true,
      refuseListen: 'proplist',
    }),
  );
  t.same(set, {
    status: 200,
    json: {
      stopAnswering: true,
      latencyMs: 3,
      rowLatencyMs: 2,
      latencyPer100RowsMs: 0,
      refuseConnections: true,
      refuseListen: 'proplist',
    },
  });
  t.equal(sim.faults.latencyMs, 3);
  t.equal(sim.faults.refuseListen, 'proplist');
  t.same(await call(port, 'POST', '/drop'), { status: 200, json: { dropped: 1 } });
  await c.closed;
});

t.test('the control port refuses bad requests with a reason', async (t) => {
  const sim = await startTestSimulator(t, { controlPort: 0 });
  const port = sim.controlPort as number;
  t.equal((await call(port, 'POST', '/faults', 'not json')).status, 400);
  const bad = await call(
    port,
    'POST',
    '/faults',
    JSON.stringify({ latencyMs: -1, stopAnswering: 'yes', colour: 1, refuseListen: 'yes' }),
  );
  t.equal(bad.status, 400);
  t.match(bad.json, {
    error:
      /latencyMs must be an integer.*stopAnswering must be a boolean.*colour is not a fault switch.*refuseListen must be 'off', 'proplist' or 'always'/,
  });
  t.equal(sim.faults.refuseListen, 'off');
  t.equal(sim.faults.stopAnswering, false, 'nothing is applied when anything is wrong');
  t.equal((await call(port, 'POST', '/faults', 'x'.repeat(70 * 1024))).status, 413);
  t.equal((await call(port, 'GET', '/nope')).status, 404);
  t.same(applyFaults(sim.faults, [1]), ['body must be a JSON object']);
  t.same(applyFaults(sim.faults, null), ['body must be a JSON object']);
  t.same(applyFaults(sim.faults, {}), []);
});

t.test(
  "the control port sets refuseConnections 'refuse' and answers once the API listens again",
  async (t) => {
    const sim = await startTestSimulator(t, { controlPort: 0 });
    const port = sim.controlPort as number;
    const post = (body: unknown) => call(port, 'POST', '/faults', JSON.stringify(body));
    t.match(await post({ refuseConnections: 'refuse' }), {
      status: 200,
      json: { refuseConnections: 'refuse' },
    });
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(sim.port, '127.0.0.1', resolve));
    t.match(
      await post({ refuseConnections: false }),
      { status: 500, json: { error: /^the API could not listen again: .*EADDRINUSE/ } },
      'a port taken meanwhile is a server error',
    );
    t.match(
      await post({ latencyMs: 0 }),
      { status: 200, json: { refuseConnections: 'refuse' } },
      'after it, the faults say what holds, and another switch is set as usual',
    );
    await new Promise((resolve) => squatter.close(resolve));
    t.match(await post({ refuseConnections: false }), {
      status: 200,
      json: { refuseConnections: false },
    });
    const c = await openRaw(t, sim.port, { user: 'admin' });
    t.equal(String((await c.call(['/system/identity/print', '.tag=1'])).at(-1)), '!done .tag=1');
    t.match(await post({ refuseConnections: 'yes' }), {
      status: 400,
      json: { error: "refuseConnections must be a boolean, 'close' or 'refuse'" },
    });
  },
);
