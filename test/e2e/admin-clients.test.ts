import t from 'tap';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, text } from '../fixtures/raw-client.js';
import { startStack } from '../fixtures/stack.js';
import { adminClient } from '../fixtures/wire-admin.js';

// Who is connected, and ending some of them by hand: a user removed from
// the file, a panel that misbehaves.

const TOKEN = 'clients-e2e-token-0123456789';

interface ClientRow {
  router: string;
  id: number;
  source: string;
  user: string | null;
  method: string | null;
  connectedAt: string;
  loggedInAt: string | null;
  commands: number;
  running: number;
}

t.test(
  'GET /monitoring/clients lists who is connected; DELETE ends the ones asked for, audited',
  async (t) => {
    const stack = await startStack(t, {
      config: {
        users: [
          { name: 'billing', password: 'billing-pw' },
          { name: 'hotspot', password: 'hotspot-pw' },
        ],
        monitoring: { host: '127.0.0.1', port: 0, token: TOKEN },
        audit: { dir: t.testdir(), flushIntervalMs: 10 },
      },
    });
    const admin = adminClient(stack.app.adminPort as number, TOKEN);
    const clients = async (query = ''): Promise<ClientRow[]> =>
      (await admin.request(`clients${query}`)).json<{ clients: ClientRow[] }>().clients;
    const first = await openRaw(t, stack.port, { user: 'billing', password: 'billing-pw' });
    const second = await openRaw(t, stack.port, { user: 'billing', password: 'billing-pw' });
    const hotspot = await openRaw(t, stack.port, { user: 'hotspot', password: 'hotspot-pw' });
    await openRaw(t, stack.port); // connected, not logged in
    t.match(text(await first.call(['/system/identity/print'])), ['!re =name=MikroTik', '!done']);

    const all = await clients();
    t.equal(all.length, 4);
    t.match(
      all.find((c) => c.user === null),
      {
        router: 'default',
        source: '127.0.0.1',
        method: null,
        loggedInAt: null,
        commands: 0,
      },
    );
    const billing = await clients('?user=billing');
    t.equal(billing.length, 2, 'filtered by user');
    t.match(billing, [
      { router: 'default', source: '127.0.0.1', method: 'plain', commands: 1, running: 0 },
      { commands: 0 },
    ]);
    t.ok(
      Date.parse(billing[0]?.loggedInAt as string) >= Date.parse(billing[0]?.connectedAt as string),
    );

    const everyone = await admin.request('clients', { method: 'DELETE' });
    t.match(
      [everyone.status, everyone.json()],
      [400, { field: 'query' }],
      'not every client at once',
    );
    const badId = await admin.request('clients?id=first', { method: 'DELETE' });
    t.match([badId.status, badId.json()], [400, { field: 'id' }]);

    const ended = await admin.request('clients?user=billing', { method: 'DELETE' });
    t.equal(ended.status, 200);
    t.match(ended.json(), { count: 2, ended: billing.map(({ id }) => ({ id, user: 'billing' })) });
    for (const client of [first, second]) {
      t.same(text(await client.untilClosed()).slice(-1), [
        '!fatal session ended by an administrator',
      ]);
    }
    t.same((await clients()).map((c) => c.user).sort(), ['hotspot', null], 'the others stay');
    t.match(text(await hotspot.call(['/system/identity/print'])), ['!re =name=MikroTik', '!done']);
    const one = (await clients('?user=hotspot'))[0] as ClientRow;
    const byId = await admin.request(`clients?id=${one.id}`, { method: 'DELETE' });
    t.match(byId.json(), { count: 1, ended: [{ id: one.id, user: 'hotspot' }] }, 'one by its id');

    const records = await eventually(
      async () =>
        (await admin.request('audit-logs?kind=disconnect')).json<{
          records: Record<string, unknown>[];
        }>().records,
      {
        until: (found) => found.length === 2,
        what: 'the endings on disk',
        intervalMs: 20,
        attempts: 250,
      },
    );
    t.match(records, [
      {
        kind: 'disconnect',
        action: 'disconnect',
        category: 'security',
        result: 'success',
        ipAddress: '127.0.0.1',
        details: {
          filter: { user: 'billing' },
          ended: billing.map(({ id }) => ({
            router: 'default',
            id,
            source: '127.0.0.1',
            user: 'billing',
          })),
        },
      },
      { details: { filter: { id: one.id }, ended: [{ id: one.id, user: 'hotspot' }] } },
    ]);
  },
);

t.test('the clients endpoint needs the token, and says what it cannot filter by', async (t) => {
  const stack = await startStack(t, {
    config: { monitoring: { host: '127.0.0.1', port: 0, token: TOKEN } },
  });
  const anonymous = await adminClient(stack.app.adminPort as number).request('clients');
  t.equal(anonymous.status, 401);
  const admin = adminClient(stack.app.adminPort as number, TOKEN);
  for (const [query, field] of [
    ['?shoe=1', 'shoe'],
    ['?user=a&user=b', 'user'],
    ['?source=not-an-address', 'source'],
    ['?id=0', 'id'],
    ['?router=', 'router'],
  ] as const) {
    const answer = await admin.request(`clients${query}`);
    t.match([answer.status, answer.json()], [400, { field }], query);
  }
  await openRaw(t, stack.port); // a client, from 127.0.0.1
  t.match(
    (await admin.request('clients?source=::ffff:127.0.0.1')).json(),
    { clients: [{ source: '127.0.0.1' }], count: 1 },
    'an IPv4-mapped source is the IPv4 one, as lockouts read it',
  );
  t.same((await admin.request('clients?source=10.9.9.9')).json(), { clients: [], count: 0 });
  t.match((await admin.request('clients?router=default')).json(), { count: 1 }, 'by router');
  const ended = await admin.request('clients?source=127.0.0.1', { method: 'DELETE' });
  t.match(
    ended.json(),
    { count: 1, ended: [{ user: null, loggedInAt: null }] },
    'before login too',
  );
});

t.test(
  'a client ended while its command waits on a stalled router: the command is cancelled there, the others go on',
  async (t) => {
    // config.yaml's defaults (cache, flow, audit on), after a live change.
    const stack = await startStack(t, {
      config: {
        monitoring: { host: '127.0.0.1', port: 0, token: TOKEN },
        audit: { dir: t.testdir(), flushIntervalMs: 10 },
      },
    });
    const admin = adminClient(stack.app.adminPort as number, TOKEN);
    const put = await admin.request('config/flow', { method: 'PUT', body: { maxConcurrency: 8 } });
    t.equal(put.status, 200, 'a live change first');
    const stuck = await openRaw(t, stack.port, { user: 'admin', password: 'secret' });
    const other = await openRaw(t, stack.port, { user: 'admin', password: 'secret' });
    stack.sim.faults.stopAnswering = true;
    stuck.send(['/interface/print', '?name=ether1', '.tag=s']);
    const [row] = await eventually(
      async () =>
        (await admin.request('clients'))
          .json<{ clients: ClientRow[] }>()
          .clients.filter((c) => c.running > 0),
      { until: (running) => running.length === 1, what: 'the command running' },
    );
    const cancelsBefore = stack.sim.counters.cancels;
    const ended = await admin.request(`clients?id=${(row as ClientRow).id}`, { method: 'DELETE' });
    t.match(ended.json(), { count: 1, ended: [{ running: 1 }] });
    t.same(text(await stuck.untilClosed()).slice(-1), ['!fatal session ended by an administrator']);
    stack.sim.faults.stopAnswering = false;
    await eventually(() => stack.sim.counters.cancels > cancelsBefore, 'the cancel on the router');
    t.match(
      text(await other.call(['/system/identity/print', '.tag=o'])),
      ['!re .tag=o =name=MikroTik', '!done .tag=o'],
      'another client is served once the router answers again',
    );
    t.same(await admin.request('clients').then((a) => a.json<{ count: number }>().count), 1);
  },
);
