import t from 'tap';
import { searchAudit, type AuditRecord } from '../../src/audit/index.js';
import { eventually } from '../fixtures/eventually.js';
import { loggedIn, startStack } from '../fixtures/stack.js';

t.test(
  'a router going down and coming back is an audit record and a dashboard event each time',
  async (t) => {
    const stack = await startStack(t);
    await eventually(() => stack.router.pool.stats.ready > 0, 'a router session to open');
    stack.sim.faults.refuseConnections = true;
    stack.sim.faults.dropAll();
    await eventually(
      () => stack.app.metrics.events().some((e) => e.kind === 'router'),
      'the router to be reported down',
    );
    stack.sim.faults.refuseConnections = false;
    await eventually(
      () => stack.app.metrics.events().filter((e) => e.kind === 'router').length === 2,
      'the router to be reported back',
    );
    t.match(
      stack.app.metrics.events().filter((e) => e.kind === 'router'),
      [
        { router: 'default', message: /^router unreachable \(ROSGATE_UPSTREAM_\w+\)$/ },
        { router: 'default', message: 'router reachable again' },
      ],
    );

    const dir = stack.app.config.audit.dir;
    await stack.app.stop(0);
    const records: AuditRecord[] = [];
    for await (const record of searchAudit(dir, { kind: 'router' })) records.push(record);
    t.match(records, [
      {
        kind: 'router',
        category: 'system',
        router: 'default',
        result: 'failure',
        details: { state: 'down', code: /^ROSGATE_UPSTREAM_/ },
      },
      { kind: 'router', router: 'default', result: 'success', details: { state: 'up' } },
    ]);
    t.equal(records.length, 2);
  },
);

t.test(
  'a graceful stop logs what it drained: clients, commands finished and how long',
  async (t) => {
    const stack = await startStack(t);
    const c = await loggedIn(t, stack);
    const stopping = stack.app.stop(10_000);
    // Connected clients are still served while the stop drains.
    t.match(String((await c.call(['/system/identity/print', '.tag=d'])).at(-1)), '!done');
    await c.close();
    await stopping;
    t.match(
      stack.logs.filter((l) => String(l['msg']).startsWith('stop')),
      [
        {
          msg: 'stopping: serving connected clients until they leave',
          clients: 1,
          graceMs: 10_000,
        },
        { msg: 'stopped: drained', clients: 1, commandsFinished: 1, durationMs: Number },
      ],
    );
  },
);
