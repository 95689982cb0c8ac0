import t from 'tap';
import { connect, createServer } from 'node:net';
import { isRosgateError } from '../../src/errors.js';
import { encodeSentence } from '../../src/protocol/index.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, RawClient, text } from '../fixtures/raw-client.js';
import { openApi, startTestSimulator } from '../fixtures/stack.js';

/** What a TCP connect to the simulator's API port meets: `connected` or the error code. */
function connectOutcome(sim: Simulator): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(sim.port, '127.0.0.1', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code as string));
  });
}

t.test('dropAll closes every connection and the counters follow sessions', async (t) => {
  const sim = await startTestSimulator(t);
  const a = await openRaw(t, sim.port, { user: 'admin' });
  const b = await openRaw(t, sim.port);
  t.equal(sim.counters.sessionsNow, 2);
  t.equal(sim.faults.dropAll(), 2);
  await Promise.all([a.closed, b.closed]);
  await eventually(() => sim.counters.sessionsNow === 0, 'the simulator to count no session');
  t.equal(sim.counters.sessionsPeak, 2);
  t.equal(sim.counters.connectionsAccepted, 2);
});

t.test(
  'stopAnswering holds what it reads and what running commands write, then answers it all in order',
  async (t) => {
    const sim = await startTestSimulator(t);
    const c = await openRaw(t, sim.port, { user: 'admin' });
    c.send(['/ip/address/listen', '.tag=l']);
    await eventually(() => sim.activeStreams() === 1, 'the listen to run');
    sim.faults.stopAnswering = true;
    sim.data.require('/ip/address').add({ address: '192.0.2.1/32' });
    c.send(['/system/identity/set', '=name=stalled', '.tag=s']);
    c.send(['/system/identity/print', '.tag=p']);
    await eventually(() => sim.counters.sentencesWaiting === 2, 'both commands to wait');
    t.ok(await c.isSilent(20), 'nothing is written while it is stopped');
    t.equal(sim.counters.commands['/system/identity/set'], undefined, 'nor worked on');
    sim.faults.stopAnswering = false;
    const answered = text(await c.untilDone('p'));
    t.match(answered[0], /^!re \.tag=l .*=address=192\.0\.2\.1\/32/, 'first what the listen wrote');
    t.same(
      answered.slice(1),
      ['!done .tag=s', '!re .tag=p =name=stalled', '!done .tag=p'],
      'then the backlog, in order',
    );
    t.equal(sim.counters.sentencesWaiting, 0);
  },
);

t.test(
  'past maxBacklogBytes a stalled connection is closed, as a router whose buffer overflowed',
  async (t) => {
    const sim = await startTestSimulator(t, { maxBacklogBytes: 64 });
    const reader = await openRaw(t, sim.port, { user: 'admin' });
    const writer = await openRaw(t, sim.port, { user: 'admin' });
    writer.send(['/ip/address/listen', '.tag=l']);
    await eventually(() => sim.activeStreams() === 1, 'the listen to run');
    sim.faults.stopAnswering = true;
    reader.send(['/system/identity/print', '.tag=1']);
    await eventually(() => sim.counters.sentencesWaiting === 1, 'a print to wait');
    // The one past the bound and one more, in one read: nothing after the overflow is taken.
    reader.write(
      Buffer.concat([
        encodeSentence(['/system/identity/set', `=name=${'x'.repeat(40)}`]),
        encodeSentence(['/system/identity/print', '.tag=2']),
      ]),
    );
    await reader.closed;
    t.equal(reader.unread, 0, 'sentences past the bound close it without a word');
    const menu = sim.data.require('/ip/address');
    for (let i = 1; i <= 3; i++) menu.add({ address: `192.0.2.${i}/32` });
    await writer.closed;
    t.equal(writer.unread, 0, 'so do replies past the bound');
    await eventually(() => sim.counters.sessionsNow === 0, 'both sessions to end');
    t.equal(sim.counters.sentencesWaiting, 0, 'what waited is gone with them');
  },
);

t.test(
  'a held sentence gives back what it counted once answered, however it was framed',
  async (t) => {
    // Below two of these sentences: a count that never came back down would close it.
    const sim = await startTestSimulator(t, { maxBacklogBytes: 60 });
    const c = await openRaw(t, sim.port, { user: 'admin' });
    /** Words with four-byte length prefixes, which a decoder accepts (§1). */
    const padded = (words: string[]): Buffer =>
      Buffer.concat([
        ...words.map((w) => Buffer.concat([Buffer.from([0xe0, 0, 0, w.length]), Buffer.from(w)])),
        Buffer.from([0]),
      ]);
    for (let round = 0; round < 20; round++) {
      sim.faults.stopAnswering = true;
      c.write(padded(['/system/identity/print', `.tag=${round}`]));
      await eventually(() => sim.counters.sentencesWaiting === 1, 'the sentence to wait');
      sim.faults.stopAnswering = false;
      t.equal(text(await c.untilDone(String(round))).at(-1), `!done .tag=${round}`);
    }
    t.equal(sim.counters.sessionsNow, 1, 'twenty stalls later the connection is still open');
  },
);

t.test('sentences behind a login under way wait within maxBacklogBytes too', async (t) => {
  const due: (() => void)[] = [];
  const sim = await startTestSimulator(t, {
    maxBacklogBytes: 64,
    latencyMs: 10,
    timers: {
      setTimeout: (fn) => due.push(fn),
      clearTimeout: () => undefined,
    },
  });
  const c = await RawClient.connect(sim.port);
  c.send(['/login', '=name=admin', '=password=']);
  await eventually(() => due.length === 1, 'the login to wait for its latency');
  c.send(['/system/identity/print', '.tag=1']);
  await eventually(() => sim.counters.sentencesWaiting === 1, 'a print to wait behind it');
  c.send(['/system/identity/set', `=name=${'x'.repeat(40)}`]);
  await c.closed;
  t.equal(c.unread, 0);
  t.equal(sim.counters.loginsOk, 0, 'the login never answered');
});

t.test('refuseConnections closes new sockets at once', async (t) => {
  const sim = await startTestSimulator(t);
  sim.faults.refuseConnections = true;
  const c = await RawClient.connect(sim.port);
  await c.closed;
  t.equal(sim.counters.connectionsRefused, 1);
  sim.faults.refuseConnections = false;
  const d = await openRaw(t, sim.port, { user: 'admin' });
  d.send(['/system/identity/print']);
  t.equal((await d.untilDone()).length, 2);
});

t.test(
  "refuseConnections 'refuse' closes the listening socket, as a router that is down, and reopens it on the same port",
  async (t) => {
    const sim = await startTestSimulator(t);
    const c = await openRaw(t, sim.port, { user: 'admin' });
    sim.faults.refuseConnections = 'refuse';
    await sim.faults.reopened();
    const refused = (await RawClient.connect(sim.port).catch((e: unknown) => e)) as Error;
    t.match(refused, { code: 'ECONNREFUSED' }, 'a connect is refused by the OS');
    t.equal(sim.counters.connectionsAccepted, 1, 'the simulator never saw it');
    t.same(
      text(await c.call(['/system/identity/print', '.tag=1'])),
      ['!re .tag=1 =name=MikroTik', '!done .tag=1'],
      'an open session goes on',
    );
    t.same(await connectOutcome(sim), 'ECONNREFUSED');

    sim.faults.refuseConnections = false;
    await sim.faults.reopened();
    const d = await openRaw(t, sim.port, { user: 'admin' });
    t.equal(String((await d.call(['/system/identity/print', '.tag=2'])).at(-1)), '!done .tag=2');

    sim.faults.refuseConnections = 'refuse';
    sim.faults.refuseConnections = false;
    sim.faults.refuseConnections = 'refuse';
    await sim.faults.reopened();
    t.same(
      await connectOutcome(sim),
      'ECONNREFUSED',
      'refused again while it reopened: it stays closed',
    );

    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(sim.port, '127.0.0.1', resolve));
    sim.faults.refuseConnections = false;
    await t.rejects(sim.faults.reopened(), { code: 'EADDRINUSE' }, 'the port was taken meanwhile');
    await new Promise((resolve) => squatter.close(resolve));
    sim.faults.refuseConnections = false;
    await sim.faults.reopened();
    t.same(await connectOutcome(sim), 'connected', 'set again, it retries');

    sim.faults.refuseConnections = 'close';
    await sim.faults.reopened();
    const closed = await RawClient.connect(sim.port);
    await closed.closed;
    t.equal(sim.counters.connectionsRefused, 1, "'close' accepts and closes, as true does");
  },
);

t.test('a simulator closed while its listener reopens stops listening', async (t) => {
  const sim = await startSimulator({ hotspotUsers: 1, pppSecrets: 1 });
  sim.faults.refuseConnections = 'refuse';
  sim.faults.refuseConnections = false;
  await sim.close();
  t.same(await connectOutcome(sim), 'ECONNREFUSED');
});

t.test(
  'past maxSessions a connection gets !fatal too many sessions, or is closed silently',
  async (t) => {
    const sim = await startTestSimulator(t, { maxSessions: 1 });
    await openRaw(t, sim.port, { user: 'admin' });
    const extra = await RawClient.connect(sim.port);
    t.equal(String(await extra.next()), '!fatal too many sessions');
    await extra.closed;
    const quiet = await startTestSimulator(t, { maxSessions: 1, tooManySessions: 'close' });
    await openRaw(t, quiet.port, { user: 'admin' });
    const other = await RawClient.connect(quiet.port);
    await other.closed;
    t.equal(other.unread, 0);
    t.equal(quiet.counters.connectionsRefused, 1);
  },
);

t.test('latencyMs delays commands; it can change at runtime', async (t) => {
  const timers: { ms: number; fn: () => void }[] = [];
  const sim = await startTestSimulator(t, {
    latencyMs: 5000,
    timers: {
      setTimeout: (fn, ms) => {
        const timer = { ms, fn };
        timers.push(timer);
        return timer;
      },
      clearTimeout: (handle) => {
        const i = timers.indexOf(handle as (typeof timers)[number]);
        if (i >= 0) timers.splice(i, 1);
      },
    },
  });
  const c = await openRaw(t, sim.port);
  c.send(['/login', '=name=admin', '=password=']);
  await eventually(() => timers.length === 1, 'the login to wait for its latency');
  t.equal(c.unread, 0, 'the login waits for its latency');
  t.same(
    timers.map((x) => x.ms),
    [5000],
  );
  timers.shift()?.fn();
  t.equal(String(await c.next()), '!done');
  sim.faults.latencyMs = 0;
  c.send(['/system/identity/print']);
  t.equal((await c.untilDone()).length, 2);
  sim.faults.latencyMs = 7;
  c.send(['/system/identity/print', '.tag=s']);
  await eventually(() => timers.length === 1, 'the print to wait for its latency');
  c.send(['/cancel', '=tag=s', '.tag=c']);
  t.same(text(await c.untilDone('s')), [
    '!trap .tag=s =category=2 =message=interrupted',
    '!done .tag=c',
    '!done .tag=s',
  ]);
  t.equal(timers.length, 0, 'the cancelled command dropped its timer');
});

t.test('rowLatencyMs sends each row as soon as it is produced, before !done', async (t) => {
  const sim = await startTestSimulator(t, { rowLatencyMs: 15 });
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/ip/address/print', '=.proplist=address']);
  const first = await c.next();
  t.equal(String(first), '!re =address=192.168.88.1/24');
  t.equal(c.unread, 0, 'the !done has not been written yet');
  const rest = await c.untilDone();
  t.same(
    rest.map((s) => s.command),
    ['!re', '!done'],
  );
  c.send(['/ip/address/print', '.tag=x']);
  await c.next();
  c.send(['/cancel', '=tag=x']);
  const after = await c.untilDone('x');
  t.same(after.filter((s) => s.command === '!re').length, 0, 'no row follows the cancel');
});

t.test('oneCommandAtATime runs the commands of a connection one after the other', async (t) => {
  const sim = await startTestSimulator(t, { oneCommandAtATime: true, streamIntervalMs: 5 });
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/interface/monitor-traffic', '=interface=ether1', '.tag=m']);
  c.send(['/system/identity/print', '.tag=i']);
  t.same(
    (await c.read(3)).map((s) => s.tagString),
    ['m', 'm', 'm'],
    'the print waits behind the stream',
  );
  c.send(['/cancel', '=tag=m']);
  const rest = await c.untilDone('i');
  t.same(text(rest.slice(-2)), ['!re .tag=i =name=MikroTik', '!done .tag=i']);
});

t.test('maxCommandsPerSession refuses commands past the bound', async (t) => {
  const sim = await startTestSimulator(t, { maxCommandsPerSession: 1 });
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/ip/address/listen', '.tag=l']);
  c.send(['/system/identity/print', '.tag=p']);
  t.same(text(await c.untilDone('p')), ['!trap .tag=p =message=too many commands', '!done .tag=p']);
});

t.test('big prints are written in batches and wait for the socket to drain', async (t) => {
  const sim = await startTestSimulator(t, { hotspotUsers: 5000, version: '7.17' });
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.socket.pause();
  c.send(['/ip/hotspot/user/print', '.tag=b']);
  // Time for the simulator to fill the socket buffers of a reader that does
  // not read (nothing observable says it has); not a wait for a timer.
  await new Promise((r) => setTimeout(r, 30));
  c.socket.resume();
  const replies = await c.untilDone('b');
  t.equal(replies.length, 5001);
  const d = await openRaw(t, sim.port, { user: 'admin' });
  d.socket.pause();
  d.send(['/ip/hotspot/user/print', '.tag=b']);
  await new Promise((r) => setTimeout(r, 30));
  d.close();
  await d.closed;
  const api = await openApi(t, sim.port);
  t.equal((await api.write('/ip/hotspot/user/print', ['=count-only='])).at(0)?.ret, '5000');
});

t.test('counters count commands by path, logins and cancels', async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  for (let i = 0; i < 3; i++) {
    c.send(['/ip/address/print']);
    await c.untilDone();
  }
  c.send(['/cancel']);
  await c.untilDone();
  for (let i = 0; i < 300; i++) c.send([`/x${i}`]);
  for (let i = 0; i < 300; i++) await c.untilDone();
  t.equal(sim.counters.commands['/ip/address/print'], 3);
  t.equal(sim.counters.commands['/login'], 1);
  t.equal(sim.counters.cancels, 1);
  t.equal(sim.counters.loginsOk, 1);
  t.ok(Object.keys(sim.counters.commands).length <= 257, 'the record stays bounded');
  t.ok((sim.counters.commands['(other)'] ?? 0) > 0);
});

t.test("a command word named like an object's own property is counted as any other", async (t) => {
  const sim = await startTestSimulator(t);
  const c = await openRaw(t, sim.port, { user: 'admin' });
  for (const word of ['constructor', 'hasOwnProperty', '__proto__', 'toString']) {
    c.send([word]);
    await c.untilDone();
  }
  t.same(
    Object.entries(sim.counters.commands).filter(([word]) => !word.startsWith('/')),
    [
      ['constructor', 1],
      ['hasOwnProperty', 1],
      ['__proto__', 1],
      ['toString', 1],
    ],
  );
  t.equal(
    JSON.parse(JSON.stringify(sim.counters)).commands['/login'],
    1,
    'and serialises as before',
  );
});

t.test('/quit after login ends the session with !fatal', async (t) => {
  const sim = await startTestSimulator(t, { streamIntervalMs: 5 });
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/ip/address/listen', '.tag=l']);
  c.send(['/quit']);
  t.equal(String(await c.next()), '!fatal session terminated on request');
  await c.closed;
  await eventually(() => sim.activeStreams() === 0, 'the listen to stop');
});

t.test('bad options are refused with every problem named', async (t) => {
  const err = await startSimulator({
    port: -1,
    version: 'seven',
    maxSessions: 0,
    latencyMs: 1.5,
    tooManySessions: 'explode' as 'close',
    cancelUnknownTagReply: 'shrug' as 'done',
    controlPort: 70000,
    seed: -1,
    interfaces: 0,
    hotspotUsers: -1,
    pppSecrets: -1,
    rowLatencyMs: -1,
    preLoginMaxSentences: 0,
    streamIntervalMs: 0,
    maxCommandsPerSession: 0,
    maxBacklogBytes: 0,
  }).catch((e: unknown) => e);
  t.ok(isRosgateError(err, 'ROSGATE_CONFIG'));
  const problems = (err as { details: { problems: string[] } }).details.problems;
  t.equal(problems.length, 16);
  t.match(problems.join('\n'), /maxBacklogBytes must be an integer 1-1073741824/);
  t.match(problems.join('\n'), /port must be an integer 0-65535/);
  t.match(problems.join('\n'), /version must look like 7.19/);
});

t.test('a port in use makes startSimulator reject', async (t) => {
  const sim = await startTestSimulator(t);
  await t.rejects(startSimulator({ port: sim.port }));
  await t.rejects(startSimulator({ controlPort: sim.port }));
});

t.test('a peer that resets the connection does not disturb the simulator', async (t) => {
  const sim = await startTestSimulator(t);
  const socket = connect(sim.port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  socket.resetAndDestroy();
  const c = await openRaw(t, sim.port, { user: 'admin' });
  c.send(['/system/identity/print']);
  t.equal((await c.untilDone()).length, 2);
});
