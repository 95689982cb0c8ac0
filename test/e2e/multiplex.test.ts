import t from 'tap';
import { RawClient, text, taggedWith } from '../fixtures/raw-client.js';
import { startStack } from '../fixtures/stack.js';

const CLIENTS = 200;
const MAX_SESSIONS = 4;

t.test(
  'two hundred clients all using tag 1 share a few router sessions and see only their own replies',
  async (t) => {
    const stack = await startStack(t, {
      sim: { hotspotUsers: 0 },
      router: { pool: { min: 1, max: MAX_SESSIONS } },
      config: {
        users: [{ name: 'billing', password: 'pw' }],
        limits: { maxClientsPerAddress: CLIENTS + 10 },
      },
    });
    for (let i = 0; i < CLIENTS; i++)
      stack.sim.data.require('/ip/hotspot/user').add({ name: `u${i}`, comment: `owner ${i}` });

    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, () => RawClient.connect(stack.port)),
    );
    t.teardown(() => Promise.all(clients.map((c) => c.close())));
    const logins = await Promise.all(clients.map((c) => c.login('billing', 'pw')));
    t.ok(
      logins.every((r) => String(r[0]) === '!done'),
      'every client logged in',
    );

    // Every client sends two commands at once, both tagged 1 (a reused tag),
    // and a third with another tag.
    const answers = await Promise.all(
      clients.map(async (c, i) => {
        c.send(['/ip/hotspot/user/print', `?name=u${i}`, '=.proplist=name,comment', '.tag=1']);
        c.send(['/system/identity/print', '.tag=1']);
        c.send(['/ip/hotspot/user/print', '=count-only=', '.tag=other']);
        return text(await c.read(5));
      }),
    );

    for (const [i, c] of clients.entries()) {
      const replies = answers[i] as string[];
      const tagged1 = replies.filter(taggedWith('1'));
      t.ok(
        tagged1.includes(`!re .tag=1 =name=u${i} =comment=owner ${i}`),
        `client ${i} got its own row`,
      );
      t.equal(
        tagged1.filter((r) => r.startsWith('!done')).length,
        2,
        `client ${i} got one done per command on tag 1`,
      );
      t.ok(replies.includes(`!done .tag=other =ret=${CLIENTS}`), `client ${i} got its count`);
      t.equal(c.unread, 0, `client ${i} got nothing else`);
      if (t.counts.fail > 0) break;
    }
    t.ok(
      stack.sim.counters.sessionsPeak <= MAX_SESSIONS,
      `at most ${MAX_SESSIONS} router sessions were open`,
    );
    t.equal(
      stack.sim.counters.loginsOk,
      stack.router.pool.stats.opened,
      'the router saw only the pool logging in',
    );
  },
);
