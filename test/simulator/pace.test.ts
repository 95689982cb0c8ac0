import t from 'tap';
import { request } from 'node:http';
import { parseSimulateArgs } from '../../src/simulator/cli.js';
import { startSimulator } from '../../src/simulator/index.js';
import { ManualClock } from '../fixtures/cache-clock.js';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, text, type Teardown } from '../fixtures/raw-client.js';
import { startTestSimulator } from '../fixtures/stack.js';

const PRINT = ['/ip/hotspot/user/print', '=.proplist=name', '.tag=p'];
const commands = (sentences: { command: string }[]): string[] => sentences.map((s) => s.command);

/** A simulator of `users` hotspot users whose timers the test moves by hand. */
async function pacedSimulator(t: Teardown, users: number, latencyPer100RowsMs: number) {
  const clock = new ManualClock();
  const sim = await startTestSimulator(t, {
    hotspotUsers: users,
    latencyPer100RowsMs,
    timers: clock,
  });
  const client = await openRaw(t, sim.port, { user: 'admin' });
  return { sim, clock, client };
}

t.test(
  'a print pauses latencyPer100RowsMs after every 100th row; its !done follows the last pause',
  async (t) => {
    const { clock, client } = await pacedSimulator(t, 250, 40);
    client.send(PRINT);
    const first = await client.read(100);
    t.same(new Set(commands(first)), new Set(['!re']), 'the first 100 rows come at once');
    await eventually(() => clock.pendingDelays.length === 1, 'the pause after row 100');
    t.same(clock.pendingDelays, [40]);
    t.ok(await client.isSilent(20), 'nothing more until the pause ends');
    clock.advance(40);
    t.same(new Set(commands(await client.read(100))), new Set(['!re']));
    await eventually(() => clock.pendingDelays.length === 1, 'the pause after row 200');
    t.ok(await client.isSilent(20));
    clock.advance(40);
    const rest = await client.untilDone('p');
    t.equal(rest.length, 51, 'the last 50 rows and the !done');
    t.equal(rest.at(-1)?.command, '!done');
  },
);

t.test('prints of fewer than 100 rows and count-only prints never pause', async (t) => {
  const { sim, clock, client } = await pacedSimulator(t, 99, 0);
  sim.faults.latencyPer100RowsMs = 40;
  t.equal((await client.call(PRINT)).length, 100, '99 rows and the !done');
  t.same(text(await client.call(['/ip/hotspot/user/print', '=count-only=', '.tag=c'])), [
    '!done .tag=c =ret=99',
  ]);
  t.same(clock.pendingDelays, []);
});

t.test('a print cancelled during its pause sends no more rows', async (t) => {
  const { sim, clock, client } = await pacedSimulator(t, 150, 40);
  client.send(PRINT);
  await client.read(100);
  await eventually(() => clock.pendingDelays.length === 1, 'the pause after row 100');
  t.same(text(await client.call(['/cancel', '=tag=p', '.tag=x'])), [
    '!trap .tag=p =category=2 =message=interrupted',
    '!done .tag=x',
  ]);
  t.same(text(await client.untilDone('p')), ['!done .tag=p']);
  t.same(clock.pendingDelays, [], 'the pause is over');
  t.ok(await client.isSilent(20));
  t.equal(sim.counters.commands['/ip/hotspot/user/print'], 1);
});

/** One request to the control port; its status and JSON body. */
function call(port: number, method: string, path: string, body?: string) {
  return new Promise<{ status: number; json: unknown }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      let data = '';
      res.on('data', (chunk: Buffer) => (data += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode as number, json: JSON.parse(data) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

t.test('the pace is an option, a fault switch on the control port and a CLI flag', async (t) => {
  const sim = await startTestSimulator(t, { controlPort: 0, latencyPer100RowsMs: 3 });
  const port = sim.controlPort as number;
  t.match((await call(port, 'GET', '/faults')).json, { latencyPer100RowsMs: 3 });
  t.match(await call(port, 'POST', '/faults', JSON.stringify({ latencyPer100RowsMs: 7 })), {
    status: 200,
    json: { latencyPer100RowsMs: 7 },
  });
  t.equal(sim.faults.latencyPer100RowsMs, 7);
  t.match(await call(port, 'POST', '/faults', JSON.stringify({ latencyPer100RowsMs: -1 })), {
    status: 400,
    json: { error: 'latencyPer100RowsMs must be an integer 0-600000' },
  });
  t.equal(sim.faults.latencyPer100RowsMs, 7, 'a refused value changes nothing');
  await t.rejects(startSimulator({ latencyPer100RowsMs: 1.5 }), {
    code: 'ROSGATE_CONFIG',
    message: /latencyPer100RowsMs must be an integer 0-600000/,
  });
  t.same(parseSimulateArgs(['--latency-per-100-rows-ms', '4']), {
    port: 8728,
    latencyPer100RowsMs: 4,
  });
});
