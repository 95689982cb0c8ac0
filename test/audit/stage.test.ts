import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { AuditKind, type AuditRecord } from '../../src/audit/audit-record.js';
import { createAuditStage, type AuditTrail } from '../../src/audit/audit-stage.js';
import type { AuditAppender } from '../../src/audit/file-appender.js';
import { LOCK_FILE } from '../../src/audit/dir-lock.js';
import { verifyFiles } from '../../src/audit/verify-files.js';
import { ErrorCode, RosgateError } from '../../src/errors.js';
import type { CommandContext } from '../../src/pipeline.js';
import { Sentence, TrapCategory, doneWords, reWords, trapWords } from '../../src/protocol/index.js';
import {
  ManualClock,
  ScriptedHandler,
  SlowAppender,
  allText,
  auditConfig,
  auditFiles,
  captureLogger,
  contextFor,
  readRecords,
  recordingSink,
  type Script,
} from '../fixtures/audit-helpers.js';

interface Harness {
  trail: AuditTrail;
  dir: string;
  clock: ManualClock;
  log: ReturnType<typeof captureLogger>;
  /** Runs one command through the stage over `script`; returns what the client saw. */
  run(context: CommandContext, script?: Script): string[];
  /** Flushes and reads every record. */
  records(): Promise<AuditRecord[]>;
}

function harness(
  t: { testdir(): string; teardown(fn: () => unknown): void },
  raw: Record<string, unknown> = {},
  appender?: AuditAppender,
): Harness {
  const cwd = t.testdir();
  const clock = new ManualClock('2024-05-01T10:00:00.250Z');
  const log = captureLogger();
  const trail = createAuditStage({
    config: auditConfig({ dir: 'audit', ...raw }),
    logger: log.logger,
    now: clock.now,
    cwd,
    ...(appender === undefined ? {} : { appender }),
  });
  t.teardown(() => trail.close());
  const dir = join(cwd, 'audit');
  return {
    trail,
    dir,
    clock,
    log,
    run(context, script = (sink) => sink.done(Sentence.from(doneWords('x')))) {
      const sink = recordingSink();
      trail.stage(new ScriptedHandler(script)).handle(context, sink);
      return sink.seen;
    },
    async records() {
      await trail.writer.flush();
      return readRecords(dir);
    },
  };
}

const done: Script = (sink) => sink.done(Sentence.from(doneWords('up7')));

t.test('a command is recorded once, at its outcome, request and result together', async (t) => {
  const h = harness(t);
  const context = contextFor(['/ip/hotspot/user/print', '.tag=client-1', '=.proplist=name']);
  const seen = h.run(context, (sink, ctx) => {
    sink.reply(Sentence.from(reWords('up7', { name: 'a' })));
    sink.reply(Sentence.from(reWords('up7', { name: 'b' })));
    ctx.notes.cache = 'hit';
    sink.done(Sentence.from(doneWords('up7')));
  });
  t.same(seen, ['!re', '!re', '!done']);
  const [record, ...rest] = await h.records();
  t.same(rest, []);
  t.match(record, {
    seq: 1,
    id: /^[0-9a-f-]{36}$/,
    timestamp: '2024-05-01T10:00:00.250Z',
    kind: 'command',
    level: 'metadata',
    category: 'hotspot',
    action: '/ip/hotspot/user/print',
    result: 'success',
    userId: 'billing',
    ipAddress: '192.0.2.10',
    router: 'default',
    connId: 7,
    path: '/ip/hotspot/user',
    verb: 'print',
    tag: 'client-1',
    cache: 'hit',
    rows: 2,
    duration: 250,
  });
  t.equal(record?.details, undefined, 'metadata keeps no attributes');
  t.equal((await verifyFiles(auditFiles(h.dir))).ok, true);
});

t.test(
  'an add keeps the .id the router returned, so a later set or remove of that row can be tied to it',
  async (t) => {
    const h = harness(t, { levels: [{ path: '/ppp/**', level: 'metadata' }] });
    const returns =
      (id: string): Script =>
      (sink) =>
        sink.done(Sentence.from(doneWords('up7', { ret: id })));
    h.run(contextFor(['/ip/hotspot/user/add', '=name=V8K2']), returns('*1A'));
    h.run(contextFor(['/ip/hotspot/user/set', '=.id=*1A', '=profile=1h']), done);
    h.run(contextFor(['/ppp/secret/add', '=name=p1']), returns('*2B'));
    // Only an add's ret is a new row's id (a script's run returns other things).
    h.run(contextFor(['/system/script/run', '=number=s']), returns('output'));
    const records = await h.records();
    t.match(records, [
      { verb: 'add', details: { ret: '*1A', attributes: { name: 'V8K2' } } },
      { verb: 'set', details: { attributes: { '.id': '*1A' } } },
      { verb: 'add', level: 'metadata', details: { ret: '*2B' } },
      { verb: 'run' },
    ]);
    t.notOk('ret' in (records[1]?.details ?? {}), 'a set has none');
    t.notOk('ret' in (records[3]?.details ?? {}), 'nor a run');
  },
);

t.test(
  'writes are recorded at request level with every secret redacted, also in queries',
  async (t) => {
    const h = harness(t, { redact: ['comment'] });
    h.run(
      contextFor([
        '/ip/hotspot/user/add',
        '=name=v1',
        '=password=SECRET-1',
        '=profile=1day',
        '=comment=SECRET-2',
      ]),
      done,
    );
    h.run(contextFor(['/ppp/secret/add', '=name=p1', '=secret=SECRET-3']), done);
    h.run(
      contextFor([
        '/interface/wireless/security-profiles/set',
        '=wpa2-pre-shared-key=SECRET-4',
        '=pre-shared-key=SECRET-5',
      ]),
      done,
    );
    h.run(
      contextFor(['/certificate/import', '=passphrase=SECRET-6', '=private-key=SECRET-7']),
      done,
    );
    h.run(contextFor(['/user/set', '=new-password=SECRET-8', '=key=SECRET-9']), done);
    h.run(
      contextFor([
        '/ip/hotspot/user/remove',
        '?password=SECRET-10',
        '?=secret=SECRET-11',
        '?name=v1',
        '?-comment',
        '?#|',
      ]),
      done,
    );
    const records = await h.records();
    t.match(records[0], {
      level: 'request',
      details: { attributes: { name: 'v1', password: '***', profile: '1day', comment: '***' } },
    });
    t.match(records[2]?.details, {
      attributes: { 'wpa2-pre-shared-key': '***', 'pre-shared-key': '***' },
    });
    t.same(records[5]?.details, {
      attributes: {},
      queries: ['?password=***', '?=secret=***', '?name=v1', '?-comment', '?#|'],
    });
    t.notMatch(allText(h.dir), /SECRET/);
    t.notMatch(h.log.text(), /SECRET/);
  },
);

t.test('at full level reply rows are kept, redacted, up to maxReplyRows', async (t) => {
  const h = harness(t, {
    levels: [{ path: '/ip/hotspot/**', verb: 'print', level: 'full' }],
    maxReplyRows: 1,
  });
  h.run(contextFor(['/ip/hotspot/user/print']), (sink) => {
    for (const name of ['a', 'b', 'c'])
      sink.reply(Sentence.from(reWords('x', { name, password: `SECRET-${name}` })));
    sink.reply(Sentence.from(['!empty']));
    sink.done(Sentence.from(doneWords('x')));
  });
  const [record] = await h.records();
  t.match(record, {
    level: 'full',
    rows: 3,
    details: { attributes: {}, reply: [{ name: 'a', password: '***' }], replyTruncated: true },
  });
  t.notMatch(allText(h.dir), /SECRET/);
});

t.test('level none records nothing, unless the command was flagged', async (t) => {
  const h = harness(t, { levels: [{ path: '/system/resource', level: 'none' }] });
  h.run(contextFor(['/system/resource/print']), done);
  h.run(
    contextFor(['/system/resource/print'], { notes: { verdict: 'flag', rule: 'watch' } }),
    done,
  );
  h.run(contextFor(['/system/resource/print'], { notes: { flags: ['injection'] } }), done);
  h.run(contextFor(['/system/resource/print'], { notes: { flags: [] } }), done);
  const records = await h.records();
  t.match(records, [
    {
      kind: 'flag',
      level: 'metadata',
      category: 'security',
      rule: 'watch',
      verdict: 'flag',
      path: '/system/resource',
    },
    { kind: 'flag', details: { flags: ['injection'] } },
  ]);
  t.equal(records.length, 2);
  t.equal(records[0]?.details, undefined);
});

t.test(
  'a router trap is a failure, an interrupted command is cancelled, one that ended first is not',
  async (t) => {
    const h = harness(t);
    h.run(contextFor(['/ip/hotspot/user/add', '=name=dup']), (sink) => {
      sink.reply(
        Sentence.from(
          trapWords('x', 'failure: already have user with this name', TrapCategory.ArgumentValue),
        ),
      );
      sink.done(Sentence.from(doneWords('x')));
    });
    h.run(contextFor(['/ip/hotspot/user/add', '=name=x']), (sink) => {
      sink.reply(Sentence.from(trapWords('x', 'interrupted', TrapCategory.Interrupted)));
      sink.done(Sentence.from(doneWords('x')));
    });
    h.run(contextFor(['/ip/address/print']), (sink) => {
      sink.reply(Sentence.from(['!trap', '.tag=x']));
      sink.done(Sentence.from(doneWords('x')));
    });
    const inner = new ScriptedHandler();
    const handler = h.trail.stage(inner);
    const listen = handler.handle(contextFor(['/interface/listen']), recordingSink());
    let answered = 0;
    listen.cancel(() => answered++);
    t.equal(inner.cancels, 1);
    t.equal(answered, 1);
    inner.sinks[0]?.reply(Sentence.from(trapWords('x', 'interrupted', TrapCategory.Interrupted)));
    inner.sinks[0]?.done(Sentence.from(doneWords('x')));
    // A cancel asked too late: the router had run the add and answers it.
    const add = handler.handle(contextFor(['/ip/hotspot/user/add', '=name=y']), recordingSink());
    add.cancel(() => answered++);
    inner.sinks[1]?.done(Sentence.from(['!done', '.tag=x', '=ret=*1A']));
    const records = await h.records();
    t.match(records, [
      {
        result: 'failure',
        details: { trap: { category: '1', message: 'failure: already have user with this name' } },
      },
      { result: 'cancelled' },
      { result: 'failure', level: 'metadata' },
      { result: 'cancelled', category: 'network', action: '/interface/listen' },
      { result: 'success', action: '/ip/hotspot/user/add', details: { ret: '*1A' } },
    ]);
    t.same(records[2]?.details, undefined);
  },
);

t.test(
  'level none still records a denial: enforced by any policy check, or only noted',
  async (t) => {
    const h = harness(t, { levels: [{ path: '/ip/hotspot/user', level: 'none' }] });
    // An input rule refused it (enforce): a denial like a rule's.
    h.trail.recordDenied(
      contextFor(['/ip/hotspot/user/add', '=name=v', '=mac-address=nope'], {
        notes: { rule: 'input:mac-address', verdict: 'deny' },
      }),
      new RosgateError(ErrorCode.InputInvalid, 'invalid value for mac-address'),
    );
    // Monitor mode: policy would have denied it and let it through.
    h.run(
      contextFor(['/ip/hotspot/user/add', '=name=w'], {
        notes: { rule: 'billing-deny-users', verdict: 'deny' },
      }),
      done,
    );
    h.run(contextFor(['/ip/hotspot/user/add', '=name=x']), done);
    const records = await h.records();
    t.match(records, [
      {
        kind: 'policyDenied',
        result: 'denied',
        level: 'metadata',
        rule: 'input:mac-address',
        details: { code: ErrorCode.InputInvalid },
      },
      { kind: 'command', result: 'success', level: 'metadata', verdict: 'deny' },
    ]);
    t.equal(records.length, 2, 'an allowed command at level none is not recorded');
  },
);

t.test('a refusal records its code: policy denial, interruption, any other error', async (t) => {
  const h = harness(t);
  const refuse =
    (code: ErrorCode): Script =>
    (sink) =>
      sink.refuse(new RosgateError(code, `refused: ${code}`));
  t.same(h.run(contextFor(['/system/reboot']), refuse(ErrorCode.PolicyDenied)), [
    'refuse:ROSGATE_POLICY_DENIED',
  ]);
  h.run(contextFor(['/ip/address/print']), refuse(ErrorCode.Interrupted));
  h.run(contextFor(['/ip/address/print']), refuse(ErrorCode.RateLimited));
  const records = await h.records();
  t.match(records, [
    {
      kind: 'policyDenied',
      result: 'denied',
      category: 'security',
      details: { code: 'ROSGATE_POLICY_DENIED', attributes: {} },
    },
    { kind: 'command', result: 'cancelled', details: { code: 'ROSGATE_INTERRUPTED' } },
    {
      kind: 'command',
      result: 'error',
      details: { code: 'ROSGATE_RATE_LIMITED', message: 'refused: ROSGATE_RATE_LIMITED' },
    },
  ]);
});

t.test('recordFailed records a command policy could not decide on, as an error', async (t) => {
  const h = harness(t);
  h.trail.recordFailed(
    contextFor(['/ip/address/print']),
    new RosgateError(ErrorCode.Internal, 'internal error in rosgate'),
  );
  t.match(await h.records(), [
    { kind: 'command', result: 'error', details: { code: ErrorCode.Internal } },
  ]);
});

t.test('a command ended twice is recorded once', async (t) => {
  const h = harness(t);
  h.run(contextFor(['/ip/address/print']), (sink) => {
    sink.refuse(new RosgateError(ErrorCode.UpstreamClosed, 'router gone'));
    sink.done(Sentence.from(doneWords('x')));
  });
  t.equal((await h.records()).length, 1);
});

t.test(
  'recordDenied records a denial made outside the stage, with the rule and redacted request',
  async (t) => {
    const h = harness(t);
    h.trail.recordDenied(
      contextFor(['/user/add', '=name=eve', '=password=SECRET-X'], {
        notes: { rule: 'no-users', verdict: 'deny' },
      }),
      new RosgateError(ErrorCode.PolicyDenied, 'not allowed'),
    );
    const [record] = await h.records();
    t.match(record, {
      kind: 'policyDenied',
      result: 'denied',
      rule: 'no-users',
      verdict: 'deny',
      rows: 0,
      details: {
        code: 'ROSGATE_POLICY_DENIED',
        message: 'not allowed',
        attributes: { name: 'eve', password: '***' },
      },
    });
    t.notMatch(allText(h.dir), /SECRET/);
  },
);

t.test('logins, failed logins and logouts are recorded from the session observer', async (t) => {
  const h = harness(t);
  const who = {
    router: 'default',
    user: 'billing',
    clientId: 3,
    address: '192.0.2.20',
    method: 'plain',
  } as const;
  h.trail.observer.loginSucceeded(who);
  h.trail.observer.loginFailed({
    ...who,
    user: 'mallory',
    code: 'ROSGATE_LOGIN_INVALID',
    reason: 'wrong password',
  });
  h.trail.observer.loggedOut({ ...who, durationMs: 1500, commands: 12 });
  t.match(await h.records(), [
    {
      kind: 'login',
      action: 'login',
      category: 'authentication',
      result: 'success',
      userId: 'billing',
      ipAddress: '192.0.2.20',
      connId: 3,
      details: { method: 'plain' },
    },
    {
      kind: 'loginFailed',
      result: 'failure',
      userId: 'mallory',
      details: { code: 'ROSGATE_LOGIN_INVALID', reason: 'wrong password' },
    },
    {
      kind: 'logout',
      action: 'logout',
      result: 'success',
      duration: 1500,
      details: { commands: 12 },
    },
  ]);
});

t.test('lockouts, breaker transitions, config changes, start and stop are recorded', async (t) => {
  const h = harness(t);
  h.trail.events.start({ version: '0.1.0' });
  h.trail.events.start();
  h.trail.events.lockout({
    address: '192.0.2.66',
    user: 'admin',
    router: 'default',
    failures: 5,
    lockedForMs: 900_000,
  });
  h.trail.events.lockout({ address: '192.0.2.67' });
  h.trail.events.breakerChange({ router: 'default', from: 'closed', to: 'open' });
  h.trail.events.breakerChange({ router: 'default', from: 'halfOpen', to: 'closed' });
  h.trail.events.configChange({
    keys: ['cache.rules', 'routers[0].password'],
    source: 'admin',
    user: 'ops',
    address: '192.0.2.1',
  });
  h.trail.events.stop({ reason: 'SIGTERM' });
  h.trail.events.stop();
  const records = await h.records();
  t.match(records, [
    {
      kind: 'start',
      category: 'system',
      result: 'success',
      details: { pid: process.pid, version: '0.1.0' },
    },
    { kind: 'start' },
    {
      kind: 'lockout',
      category: 'security',
      result: 'denied',
      ipAddress: '192.0.2.66',
      userId: 'admin',
      details: { failures: 5, lockedForMs: 900_000 },
    },
    { kind: 'lockout', details: {} },
    {
      kind: 'breaker',
      result: 'failure',
      router: 'default',
      details: { from: 'closed', to: 'open' },
    },
    { kind: 'breaker', result: 'success' },
    {
      kind: 'config',
      category: 'configuration',
      userId: 'ops',
      details: { keys: ['cache.rules', 'routers[0].password'], source: 'admin' },
    },
    { kind: 'stop', details: { reason: 'SIGTERM' } },
    { kind: 'stop', details: {} },
  ]);
  t.equal(records[1]?.details?.['version'], undefined);
});

t.test('every kind of event reaches the file', async (t) => {
  const h = harness(t);
  const who = {
    router: 'default',
    user: 'u',
    clientId: 1,
    address: '192.0.2.1',
    method: 'challenge',
  } as const;
  h.trail.events.start();
  h.trail.observer.loginSucceeded(who);
  h.trail.observer.loginFailed({ ...who, code: 'ROSGATE_LOGIN_INVALID', reason: 'bad' });
  h.run(contextFor(['/ip/address/print']), done);
  h.run(contextFor(['/ip/address/print'], { notes: { verdict: 'flag' } }), done);
  h.trail.recordDenied(
    contextFor(['/system/reboot']),
    new RosgateError(ErrorCode.PolicyDenied, 'no'),
  );
  h.trail.events.lockout({ address: '192.0.2.1' });
  h.trail.events.clientsEnded({
    filter: { user: 'u' },
    ended: [{ router: 'default', id: 1, source: '192.0.2.1', user: 'u' }],
    address: '127.0.0.1',
  });
  h.trail.events.breakerChange({ router: 'default', from: 'closed', to: 'open' });
  h.trail.events.routerChange({
    router: 'default',
    state: 'down',
    code: 'ROSGATE_UPSTREAM_CLOSED',
  });
  h.trail.events.routerChange({ router: 'default', state: 'up' });
  h.trail.events.configChange({ keys: ['audit.levels'], source: 'admin' });
  h.trail.observer.loggedOut({ ...who, durationMs: 1, commands: 1 });
  h.trail.events.stop();
  const kinds = new Set((await h.records()).map((r) => r.kind));
  // auditFile is the writer's own (test/audit/replaced.test.ts).
  const staged = Object.values(AuditKind).filter((kind) => kind !== AuditKind.AuditFile);
  t.same([...kinds].sort(), staged.sort());
});

t.test('an inner handler that throws is refused and recorded as an error', async (t) => {
  const h = harness(t);
  const sink = recordingSink();
  const exchange = h.trail
    .stage({
      handle() {
        throw new Error('boom');
      },
    })
    .handle(contextFor(['/ip/address/print']), sink);
  let answered = false;
  exchange.cancel(() => (answered = true));
  t.ok(answered);
  t.same(sink.seen, ['refuse:ROSGATE_INTERNAL']);
  t.match(await h.records(), [{ result: 'error', details: { code: 'ROSGATE_INTERNAL' } }]);
});

t.test('a failure while recording is logged and the command still completes', async (t) => {
  const h = harness(t);
  const context = contextFor(['/ip/address/add', '=address=10.0.0.1/24']);
  const broken = Object.create(context.sentence, {
    attributes: {
      value: () => {
        throw new Error('broken sentence');
      },
    },
  }) as Sentence;
  t.same(h.run({ ...context, sentence: broken }, done), ['!done']);
  const weird = Object.create(Sentence.prototype, {
    command: {
      get: () => {
        throw new Error('broken reply');
      },
    },
  }) as Sentence;
  const reached: string[] = [];
  h.trail
    .stage(
      new ScriptedHandler((sink) => {
        sink.reply(weird);
        sink.done(Sentence.from(doneWords('x')));
      }),
    )
    .handle(contextFor(['/ip/address/print']), {
      reply: () => reached.push('reply'),
      done: () => reached.push('done'),
      refuse: () => reached.push('refuse'),
    });
  t.same(reached, ['reply', 'done'], 'the reply still reaches the client');
  t.match(
    h.log.lines().filter((l) => l['msg'] === 'audit record failed'),
    [{ level: 50, code: 'ROSGATE_INTERNAL' }, { level: 50 }],
  );
});

t.test(
  'with audit disabled the stage is the next handler itself and nothing is written',
  async (t) => {
    const h = harness(t, { enabled: false });
    const inner = new ScriptedHandler(done);
    t.equal(h.trail.stage(inner), inner);
    h.trail.events.start();
    h.trail.observer.loginSucceeded({
      router: 'r',
      user: 'u',
      clientId: 1,
      address: 'a',
      method: 'plain',
    });
    await h.trail.writer.flush();
    await h.trail.writer.close();
    t.equal(h.trail.writer.head(), undefined);
    t.same(h.trail.stats(), {
      written: 0,
      dropped: 0,
      bytes: 0,
      flushes: 0,
      errors: 0,
      queued: 0,
      fileReplaced: 0,
    });
  },
);

t.test('with toFile off records go to the log', async (t) => {
  const h = harness(t, { toFile: false });
  h.run(contextFor(['/ip/hotspot/user/add', '=name=v', '=password=SECRET-L']), done);
  t.match(h.log.lines(), [
    {
      msg: 'audit',
      audit: { action: '/ip/hotspot/user/add', details: { attributes: { password: '***' } } },
    },
  ]);
  t.notMatch(h.log.text(), /SECRET/);
  t.equal(h.trail.stats().written, 1);
});

t.test('the stage uses the process clock by default, and an absolute dir as it is', async (t) => {
  const dir = t.testdir();
  const trail = createAuditStage({ config: auditConfig({ dir }), logger: captureLogger().logger });
  const before = Date.now();
  trail.events.start();
  await trail.writer.close();
  const [record] = readRecords(dir);
  t.ok(Date.parse(record?.timestamp as string) >= before);
});

t.test(
  'a stuck disk never delays a command: the client has its answer while the record waits',
  async (t) => {
    const appender = new SlowAppender();
    const h = harness(t, { bufferSize: 1 }, appender);
    t.same(h.run(contextFor(['/ip/address/print']), done), ['!done']);
    t.same(h.run(contextFor(['/ip/address/print']), done), ['!done']);
    t.equal(h.trail.stats().written, 0);
    appender.release();
    await h.trail.writer.close();
    t.equal(h.trail.stats().written, 2);
  },
);

t.test('a denial at full level keeps an empty reply', async (t) => {
  const h = harness(t, { levels: [{ path: '/system/**', level: 'full' }] });
  h.trail.recordDenied(
    contextFor(['/system/reboot']),
    new RosgateError(ErrorCode.PolicyDenied, 'no'),
  );
  t.match(await h.records(), [{ level: 'full', details: { reply: [] } }]);
});

t.test(
  'a lock left in the audit folder by a rosgate process that is gone is taken over with a warning naming it',
  async (t) => {
    const h = harness(t);
    mkdirSync(h.dir, { recursive: true });
    const gone = {
      pid: 2 ** 22 + 1,
      hostname: hostname(),
      startedAt: '2024-05-01T09:00:00.000Z',
      token: 'old',
    };
    writeFileSync(join(h.dir, LOCK_FILE), `${JSON.stringify(gone)}\n`);
    // Untouched for long: taken at once (a fresh one is first watched, up to 15 s).
    const long = new Date(Date.now() - 600_000);
    utimesSync(join(h.dir, LOCK_FILE), long, long);
    await h.trail.acquire();
    t.match(
      h.log.lines().filter((line) => line['level'] === 40),
      [
        {
          msg: 'took over the audit directory lock of a rosgate process that is gone',
          dir: h.dir,
          holder: gone,
        },
      ],
    );
    await h.trail.acquire();
    t.equal(
      h.log.lines().filter((line) => line['level'] === 40).length,
      1,
      'a second acquire is a no-op',
    );
    await h.trail.release();
    t.notOk(existsSync(join(h.dir, LOCK_FILE)), 'released, the lock file is gone');
  },
);
