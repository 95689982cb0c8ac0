import net from 'node:net';
import t from 'tap';
import { ErrorCode } from '../../src/errors.js';
import { computeResponse } from '../../src/protocol/index.js';
import { startSimulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { ChallengeRelay } from '../../src/upstream/challenge-relay.js';
import { eventually } from '../fixtures/eventually.js';
import { fakeRouter, tagOf } from '../fixtures/fake-router.js';
import { TEST_PEM, startTlsTerminator } from '../fixtures/tls-peers.js';

type Tap = { teardown(fn: () => unknown): void };

async function oldRouter(t: Tap, options: SimulatorOptions = {}) {
  const sim = await startSimulator({
    version: '6.44',
    user: 'svc',
    password: 'pw',
    users: { billing: 'bill-pw' },
    ...options,
  });
  t.teardown(() => sim.close());
  return sim;
}

const name = (s: string): Buffer => Buffer.from(s, 'latin1');
const answer = (password: string, hex: string): Buffer =>
  Buffer.from(computeResponse(password, Buffer.from(hex, 'hex')), 'latin1');

t.test("the router checks the client's answer to its own challenge", async (t) => {
  const sim = await oldRouter(t);
  const relay = await ChallengeRelay.open({ host: '127.0.0.1', port: sim.port, timeoutMs: 2000 });
  t.match(relay.challengeHex, /^[0-9a-f]{32}$/, 'the router challenge, as 32 hex digits');
  t.equal(await relay.check(name('billing'), answer('bill-pw', relay.challengeHex)), true);
  t.equal(sim.counters.loginsOk, 1, 'the router itself checked the answer');

  const wrong = await ChallengeRelay.open({ host: '127.0.0.1', port: sim.port, timeoutMs: 2000 });
  t.equal(await wrong.check(name('billing'), answer('guess', wrong.challengeHex)), false);
  t.equal(sim.counters.loginsFailed, 1, 'a wrong answer is refused by the router');
  await eventually(() => sim.counters.sessionsNow === 0, 'every relay connection to close');
});

t.test('a relay works through the router api-ssl service', async (t) => {
  const sim = await oldRouter(t);
  const front = await startTlsTerminator(sim.port, { cert: TEST_PEM.cert, key: TEST_PEM.key });
  t.teardown(() => front.close());
  const relay = await ChallengeRelay.open({
    host: '127.0.0.1',
    port: front.port,
    tls: { rejectUnauthorized: false },
    timeoutMs: 2000,
  });
  t.equal(await relay.check(name('billing'), answer('bill-pw', relay.challengeHex)), true);
  t.equal(front.ciphers.length, 1, 'over TLS');
});

t.test('a router that sends no challenge is refused', async (t) => {
  for (const [what, words] of [
    ['a done without ret', ['!done']],
    ['a ret that is not 32 hex digits', ['!done', '=ret=abc']],
    ['a trap', ['!trap', '=message=no']],
  ] as const) {
    const port = await fakeRouter(t, (_s, reply) => reply(...words));
    await t.rejects(
      ChallengeRelay.open({ host: '127.0.0.1', port, timeoutMs: 2000 }),
      {
        code: ErrorCode.UpstreamClosed,
        message: 'legacy login relay: the router sent no login challenge',
      },
      what,
    );
  }
});

t.test('a relay fails with a reason when the router misbehaves', async (t) => {
  const silent = await fakeRouter(t, () => undefined);
  await t.rejects(ChallengeRelay.open({ host: '127.0.0.1', port: silent, timeoutMs: 20 }), {
    message: 'legacy login relay: the router did not answer the login in time',
  });

  const closing = await fakeRouter(t, (_s, _reply, socket) => socket.destroy());
  await t.rejects(ChallengeRelay.open({ host: '127.0.0.1', port: closing, timeoutMs: 2000 }), {
    message: 'legacy login relay: the router closed the connection',
  });

  const garbage = await fakeRouter(t, (_s, _reply, socket) => socket.write(Buffer.of(0xf8)));
  await t.rejects(ChallengeRelay.open({ host: '127.0.0.1', port: garbage, timeoutMs: 2000 }), {
    message: 'legacy login relay: the router sent bytes that break the protocol',
  });

  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  await t.rejects(ChallengeRelay.open({ host: '127.0.0.1', port, timeoutMs: 2000 }), {
    code: ErrorCode.UpstreamClosed,
    message: 'legacy login relay: router connection error',
  });
});

t.test('a relay whose connection is gone refuses the check', async (t) => {
  const sim = await oldRouter(t);
  const relay = await ChallengeRelay.open({ host: '127.0.0.1', port: sim.port, timeoutMs: 2000 });
  sim.faults.dropAll();
  await t.rejects(relay.check(name('billing'), answer('bill-pw', relay.challengeHex)), {
    message: 'legacy login relay: the router closed the connection',
  });

  const closed = await ChallengeRelay.open({ host: '127.0.0.1', port: sim.port, timeoutMs: 2000 });
  closed.close();
  await t.rejects(closed.check(name('billing'), answer('bill-pw', closed.challengeHex)), {
    message: 'legacy login relay: relay closed',
  });
});

t.test('replies the router sent before it was asked are read in order', async (t) => {
  const port = await fakeRouter(t, (s, reply) => {
    if (s.attribute('response') !== undefined) return;
    reply('!done', `=ret=${'ab'.repeat(16)}`, tagOf(s));
    // A refusal ahead of the question: the next answer read.
    reply('!trap', '=message=cannot log in');
  });
  const relay = await ChallengeRelay.open({ host: '127.0.0.1', port, timeoutMs: 2000 });
  t.equal(relay.challengeHex, 'ab'.repeat(16));
  t.equal(await relay.check(name('billing'), Buffer.from('00', 'latin1')), false);
});
