import t, { type Test } from 'tap';
import { startStack } from '../fixtures/stack.js';

type Row = Record<string, string>;

t.test('a billing system works through rosgate as against the router', async (t) => {
  /** Each subtest's own app and client: none depends on another's traffic. */
  const setup = async (t: Test) => {
    const stack = await startStack(t);
    return { stack, api: await stack.client() };
  };

  t.test('the identity print used as a health probe answers with the router name', async (t) => {
    const { api } = await setup(t);
    const rows = (await api.write('/system/identity/print')) as Row[];
    t.equal(rows.length, 1);
    t.type(rows[0]?.name, 'string');
  });

  t.test(
    'a voucher batch adds hotspot users whose comments hold pipes, JSON and quotes',
    async (t) => {
      const { api } = await setup(t);
      const comments = [
        'VOUCHER_SYSTEM|5000|2026-11-25|batch7',
        '{"plan":"1h","price":5}',
        'say "hi" *1A',
      ];
      const ids: string[] = [];
      for (const [i, comment] of comments.entries()) {
        const done = (await api.write('/ip/hotspot/user/add', [
          `=name=v${i}`,
          '=password=p1',
          `=comment=${comment}`,
        ])) as Row[];
        t.match(done[0]?.ret, /^\*[0-9A-F]+$/, 'add answers with the new id');
        ids.push(done[0]?.ret as string);
      }
      const rows = (await api.write('/ip/hotspot/user/print', [
        '?name=v1',
        '=.proplist=.id,name,comment',
      ])) as Row[];
      t.same(
        rows,
        [{ '.id': ids[1], name: 'v1', comment: comments[1] }],
        'query and proplist reach the router',
      );
      const all = (await api.write('/ip/hotspot/user/print', [
        '?#|',
        '?name=v0',
        '?name=v2',
        '?#|',
      ])) as Row[];
      t.same(
        all.map((r) => r.comment).sort(),
        [comments[0], comments[2]].sort(),
        'comments come back byte for byte',
      );
    },
  );

  t.test('set and remove change the router and answer with an empty done', async (t) => {
    const { api } = await setup(t);
    const [added] = (await api.write('/ppp/secret/add', [
      '=name=pppoe-7',
      '=password=x',
      '=service=pppoe',
    ])) as Row[];
    const id = added?.ret as string;
    t.same(await api.write('/ppp/secret/set', [`=.id=${id}`, '=comment=moved to plan B']), []);
    const [row] = (await api.write('/ppp/secret/print', ['?name=pppoe-7'])) as Row[];
    t.equal(row?.comment, 'moved to plan B');
    t.same(await api.write('/ppp/secret/remove', [`=.id=${id}`]), []);
    t.same(await api.write('/ppp/secret/print', ['?name=pppoe-7']), []);
  });

  t.test('a duplicate add gets the router trap and the connection stays usable', async (t) => {
    const { api } = await setup(t);
    await api.write('/ip/hotspot/user/add', ['=name=dup', '=password=a']);
    await t.rejects(api.write('/ip/hotspot/user/add', ['=name=dup', '=password=a']), {
      message: /already have user with this name/,
    });
    const rows = (await api.write('/ip/hotspot/user/print', ['?name=dup'])) as Row[];
    t.equal(rows.length, 1, 'the next command on the same connection works');
  });

  t.test('an unknown command gets the router trap', async (t) => {
    const { api } = await setup(t);
    await t.rejects(api.write('/ip/hotspot/nosuch/print'), { message: /no such command/ });
    t.equal(((await api.write('/system/identity/print')) as Row[]).length, 1);
  });

  t.test('a streaming command streams rows until the client stops it', async (t) => {
    const { stack, api } = await setup(t);
    const rows: Row[] = [];
    const before = stack.sim.activeStreams();
    await new Promise<void>((resolve, reject) => {
      const stream = api.stream(
        '/interface/monitor-traffic',
        ['=interface=ether1'],
        (err: Error | null, row: Row) => {
          if (err) return reject(err);
          rows.push(row);
          if (rows.length === 3) void stream.stop().then(() => resolve(), reject);
        },
      );
    });
    t.equal(rows.length, 3);
    t.equal(rows[0]?.name, 'ether1');
    t.equal(stack.sim.activeStreams(), before, 'the router stream was cancelled');
    t.equal(((await api.write('/system/identity/print')) as Row[]).length, 1);
  });
});
