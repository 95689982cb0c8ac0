import t from 'tap';
import { parseStrictJson } from '../fixtures/strict-json.js';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, text } from '../fixtures/raw-client.js';
import { loggedIn, startStack } from '../fixtures/stack.js';

// Strict log pipelines reject a JSON line with a key twice. Every line of a
// run that goes through the faults (command timeouts, the breaker opening
// and closing, the router dropping its sessions and refusing new ones, a
// wrong password, the drain) must parse with a parser that refuses them.

t.test('the parser these tests use refuses a duplicate key and accepts plain JSON', async (t) => {
  t.same(parseStrictJson('{"a":[1,-2.5e3,"x\\"y"],"b":{"c":null,"d":true,"e":{}},"f":[]}'), {
    a: [1, -2500, 'x"y'],
    b: { c: null, d: true, e: {} },
    f: [],
  });
  t.throws(
    () => parseStrictJson('{"router":"a","level":30,"router":"a"}'),
    /duplicate key "router"/,
  );
  for (const bad of [
    '{"a":1',
    '{"a" 1}',
    '{1:2}',
    '[1 2]',
    '{"a":1}x',
    '"open',
    '{"a":1 "b":2}',
    'nope',
  ])
    t.throws(() => parseStrictJson(bad), SyntaxError, bad);
});

t.test(
  'every log line of a run with timeouts, breaker changes, router drops and a drain has each key once',
  async (t) => {
    const stack = await startStack(t, {
      config: {
        cache: { enabled: false },
        flow: {
          commandIdleTimeoutMs: 100,
          rateLimit: { enabled: false },
          breaker: { threshold: 3, volumeThreshold: 3, resetTimeoutMs: 200, monitoringMs: 5000 },
        },
      },
    });
    await eventually(() => stack.router.pool.stats.ready > 0, 'a router session to open');
    const c = await loggedIn(t, stack);
    t.match(text(await c.call(['/system/identity/print', '.tag=a'])).at(-1), '!done');

    // Timeouts open the circuit; once the router answers, a probe closes it.
    stack.sim.faults.stopAnswering = true;
    for (const tag of ['t1', 't2', 't3']) await c.call(['/ip/address/print', `.tag=${tag}`]);
    t.equal(stack.router.flow.breakerState, 'open');
    stack.sim.faults.stopAnswering = false;
    await eventually(() => stack.router.flow.breakerState !== 'open', 'the circuit to half-open');
    // A probe that finds the router still away reopens the circuit for a while: try again.
    const isClosed = (): boolean => stack.router.flow.breakerState === 'closed';
    for (let i = 0; i < 500 && !isClosed(); i++) {
      await c.call(['/system/identity/print', `.tag=p${i}`]);
      if (!isClosed()) await new Promise((r) => setTimeout(r, 10));
    }
    t.equal(stack.router.flow.breakerState, 'closed', 'a probe closes the circuit');

    // The router drops every session and refuses new ones for a while.
    stack.sim.faults.refuseConnections = true;
    stack.sim.faults.dropAll();
    await eventually(
      () => stack.logs.some((l) => l['msg'] === 'router unreachable; retrying'),
      'the router to be reported unreachable',
    );
    stack.sim.faults.refuseConnections = false;
    await eventually(
      () => stack.logs.some((l) => l['msg'] === 'router reachable again'),
      'the router to be reported back',
    );

    // A wrong password, then a graceful stop.
    const wrong = await openRaw(t, stack.port);
    await wrong.call(['/login', '=name=admin', '=password=wrong']);
    await stack.app.stop(0);

    const lines = stack
      .logText()
      .split('\n')
      .filter((line) => line !== '');
    const messages = new Set<unknown>();
    for (const line of lines) {
      let parsed: unknown;
      t.doesNotThrow(() => {
        parsed = parseStrictJson(line);
      }, line);
      messages.add((parsed as Record<string, unknown> | undefined)?.['msg']);
    }
    for (const msg of [
      'command timed out',
      'circuit breaker',
      'router session closed',
      'router unreachable; retrying',
      'router reachable again',
    ])
      t.ok(messages.has(msg), `the run logged "${msg}"`);
  },
);
