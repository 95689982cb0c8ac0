import {
  existsSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ErrorCode } from '../../src/errors.js';
import { eventually } from '../fixtures/eventually.js';
import {
  LOCK_FILE,
  acquireDirLock,
  isProcessAlive,
  type LockHolder,
} from '../../src/audit/dir-lock.js';

// One process per audit folder: the lock file, its holder, stale locks.

function holderIn(dir: string): LockHolder {
  return JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as LockHolder;
}

/** A lock file left by `pid` on `host`, last touched ten minutes ago (unless `isFresh`). */
function staleLock(
  dir: string,
  pid: number,
  host = hostname(),
  token = 'old',
  isFresh = false,
): void {
  const path = join(dir, LOCK_FILE);
  writeFileSync(
    path,
    `${JSON.stringify({ pid, hostname: host, startedAt: '2024-05-01T10:00:00.000Z', token })}\n`,
  );
  if (!isFresh) {
    const long = new Date(Date.now() - 600_000);
    utimesSync(path, long, long);
  }
}

t.test('the lock file names its holder and goes away on release', async (t) => {
  const dir = join(t.testdir(), 'audit');
  const lock = await acquireDirLock(dir, { now: () => Date.parse('2024-05-01T10:00:00.000Z') });
  t.match(holderIn(dir), {
    pid: process.pid,
    hostname: hostname(),
    startedAt: '2024-05-01T10:00:00.000Z',
    token: String,
  });
  t.same(readdirSync(dir), [LOCK_FILE]);
  t.equal(lock.recovered, undefined);
  await lock.release();
  t.notOk(existsSync(join(dir, LOCK_FILE)));
  await lock.release();
  t.pass('a second release does nothing');
});

t.test(
  'a second holder in the same folder is refused with the folder and the holder',
  async (t) => {
    const dir = t.testdir();
    const first = await acquireDirLock(dir, { pid: 4242, isAlive: () => true });
    t.teardown(() => first.release());
    await t.rejects(acquireDirLock(dir, { pid: 4343, isAlive: () => true }), {
      code: 'ROSGATE_AUDIT_LOCKED',
      message: new RegExp(
        `the audit directory ${dir} is held by rosgate pid 4242 on host ${hostname()} .*` +
          `own AUDIT_LOG_DIR.*remove ${join(dir, LOCK_FILE)}`,
      ),
      details: { dir, holder: { pid: 4242 } },
    });
    // The same process (a second app) is refused too, whatever the pid says.
    await t.rejects(acquireDirLock(dir), { code: 'ROSGATE_AUDIT_LOCKED' });
    t.equal(holderIn(dir).pid, 4242, 'the holder keeps its lock');
  },
);

t.test('a lock of a dead process on this host is taken over', async (t) => {
  const dir = t.testdir();
  staleLock(dir, 999_999);
  const checked: number[] = [];
  const lock = await acquireDirLock(dir, {
    isAlive: (pid) => {
      checked.push(pid);
      return false;
    },
  });
  t.same(checked, [999_999]);
  t.match(lock.recovered, { pid: 999_999, token: 'old' });
  t.equal(holderIn(dir).pid, process.pid);
  await lock.release();
});

t.test('a lock with this pid that this process does not hold is stale (pid 1 again)', async (t) => {
  const dir = t.testdir();
  staleLock(dir, 1);
  const lock = await acquireDirLock(dir, { pid: 1, isAlive: () => true });
  t.match(lock.recovered, { pid: 1 });
  t.not(holderIn(dir).token, 'old');
  await lock.release();
});

t.test(
  'a live holder, a fresh lock of another host, or an unreadable lock is not taken over',
  async (t) => {
    const dir = t.testdir();
    staleLock(dir, 77, 'rosgate-1', 'old', true);
    await t.rejects(acquireDirLock(dir, { isAlive: () => false }), {
      message:
        /held by rosgate pid 77 on host rosgate-1 \(since .*; taken over once not refreshed for 60 s\)/,
    });
    staleLock(dir, 78);
    await t.rejects(acquireDirLock(dir, { isAlive: () => true }), {
      message: /held by rosgate pid 78 on host/,
    });
    writeFileSync(join(dir, LOCK_FILE), 'not json');
    await t.rejects(acquireDirLock(dir), { message: /held by an unreadable lock file/ });
    writeFileSync(join(dir, LOCK_FILE), '{"pid":"x"}');
    await t.rejects(acquireDirLock(dir), { message: /held by an unreadable lock file/ });
    t.equal(readFileSync(join(dir, LOCK_FILE), 'utf8'), '{"pid":"x"}', 'left as it was');
  },
);

t.test('a lock on this host still being touched is held, whatever its pid says', async (t) => {
  // Two containers sharing a hostname (hostNetwork) and a folder: both are pid 1.
  const dir = t.testdir();
  staleLock(dir, 1, hostname(), 'the-other-container', true);
  const path = join(dir, LOCK_FILE);
  const touch = setInterval(() => {
    const at = new Date();
    utimesSync(path, at, at);
  }, 20);
  t.teardown(() => clearInterval(touch));
  await t.rejects(acquireDirLock(dir, { pid: 1, refreshMs: 40 }), {
    code: ErrorCode.AuditLocked,
  });
  t.equal(holderIn(dir).token, 'the-other-container', 'its lock is left alone');
});

t.test(
  'a lock of this pid no longer touched is taken over after one refresh at most',
  async (t) => {
    const dir = t.testdir();
    staleLock(dir, 1, hostname(), 'before-the-restart', true);
    const lock = await acquireDirLock(dir, { pid: 1, refreshMs: 40 });
    t.match(lock.recovered, { token: 'before-the-restart' });
    await lock.release();
  },
);

t.test(
  'the wait on a lock left on this host is told first, and an abort ends it without taking the lock',
  async (t) => {
    const dir = t.testdir();
    staleLock(dir, 1, hostname(), 'left', true);
    const stopping = new AbortController();
    const waits: [string, number][] = [];
    const acquiring = acquireDirLock(dir, {
      pid: 1,
      signal: stopping.signal,
      onWait: (holder, waitMs) => {
        waits.push([holder.token, waitMs]);
        stopping.abort(new Error('stopped while starting'));
      },
    });
    await t.rejects(acquiring, { message: 'stopped while starting' });
    t.match(waits, [['left', Number]]);
    t.ok((waits[0]?.[1] ?? 0) > 10_000, 'up to one and a half refreshes (10 s)');
    t.equal(holderIn(dir).token, 'left', 'the lock is left as it was');
  },
);

t.test('a stale lock replaced by another one while judged is not removed', async (t) => {
  const dir = t.testdir();
  staleLock(dir, 999_998, hostname(), 'a');
  let round = 0;
  // Each time this process finds the lock stale, a third process has just
  // put a new stale lock there: after three rounds it gives up.
  await t.rejects(
    acquireDirLock(dir, {
      isAlive: () => {
        staleLock(dir, 999_998, hostname(), `b${++round}`);
        return false;
      },
    }),
    { code: 'ROSGATE_AUDIT_LOCKED', message: /pid 999998/ },
  );
  t.equal(round, 3);
  t.equal(holderIn(dir).token, 'b3', 'the newest lock is left in place');
  t.same(readdirSync(dir), [LOCK_FILE]);
});

t.test('a stale lock that vanishes on the last round is reported as held by no one', async (t) => {
  const dir = t.testdir();
  staleLock(dir, 999_998, hostname(), 'a');
  let round = 0;
  // Twice a third process puts a new stale lock there; the third time it has
  // just released the folder: the answer then names no holder.
  await t.rejects(
    acquireDirLock(dir, {
      isAlive: () => {
        if (++round < 3) staleLock(dir, 999_998, hostname(), `b${round}`);
        else unlinkSync(join(dir, LOCK_FILE));
        return false;
      },
    }),
    { code: 'ROSGATE_AUDIT_LOCKED', message: /unreadable lock file/ },
  );
  t.equal(round, 3);
  t.same(readdirSync(dir), []);
});

t.test('a folder this process holds is refused even when its lock file was deleted', async (t) => {
  const dir = t.testdir();
  const lock = await acquireDirLock(dir);
  unlinkSync(join(dir, LOCK_FILE));
  await t.rejects(acquireDirLock(dir), { code: 'ROSGATE_AUDIT_LOCKED' });
  await lock.release();
});

t.test('a lock file that cannot be opened fails with the reason (a symlink loop)', async (t) => {
  const dir = t.testdir();
  symlinkSync(LOCK_FILE, join(dir, LOCK_FILE));
  await t.rejects(acquireDirLock(dir), { code: 'ELOOP' });
});

t.test('a lock that cannot be created or read fails with the reason', async (t) => {
  // A folder whose path leaves no room for the lock file's name.
  let deep = t.testdir();
  while (deep.length < 4090) deep = join(deep, 'd'.repeat(Math.min(200, 4090 - deep.length)));
  await t.rejects(acquireDirLock(deep), { code: 'ENAMETOOLONG' });
  const folder = t.testdir({ [LOCK_FILE]: {} });
  await t.rejects(acquireDirLock(folder), { code: 'EISDIR' });
});

t.test(
  'a lock released by its holder after another took it over stays with the new holder',
  async (t) => {
    const dir = t.testdir();
    const first = await acquireDirLock(dir);
    staleLock(dir, 999_997, hostname(), 'someone-else');
    await first.release();
    t.equal(holderIn(dir).token, 'someone-else', 'only its own lock is removed');
  },
);

t.test('isProcessAlive tells running pids from gone ones', async (t) => {
  t.ok(isProcessAlive(process.pid));
  t.notOk(isProcessAlive(2 ** 22 + 1), 'above pid_max');
  t.ok(isProcessAlive(1), 'init runs, as another user (EPERM) or as us');
});

t.test(
  'a lock of another host untouched for staleMs is taken over (a volume moved to a new Pod)',
  async (t) => {
    const dir = t.testdir();
    staleLock(dir, 1, 'rosgate-7d9f-old');
    const untouched = new Date(Date.now() - 61_000);
    utimesSync(join(dir, LOCK_FILE), untouched, untouched);
    const lock = await acquireDirLock(dir, { pid: 1, hostname: 'rosgate-7d9f-new' });
    t.match(lock.recovered, { hostname: 'rosgate-7d9f-old' });
    await lock.release();
    staleLock(dir, 1, 'rosgate-7d9f-old');
    utimesSync(join(dir, LOCK_FILE), untouched, untouched);
    await t.rejects(acquireDirLock(dir, { hostname: 'rosgate-7d9f-new', staleMs: 120_000 }), {
      message: /not refreshed for 120 s/,
    });
  },
);

t.test('the holder touches its lock while it holds it', async (t) => {
  const dir = t.testdir();
  const lock = await acquireDirLock(dir, { refreshMs: 5 });
  const old = new Date(Date.now() - 3_600_000);
  utimesSync(join(dir, LOCK_FILE), old, old);
  await eventually(
    () => statSync(join(dir, LOCK_FILE)).mtimeMs > Date.now() - 60_000,
    'the lock to be touched again',
  );
  await lock.release();
  t.notOk(existsSync(join(dir, LOCK_FILE)));
});

t.test(
  'a folder that cannot be written names audit.dir, AUDIT_LOG_DIR and the writable volume it needs',
  async (t) => {
    // Kernel folders refuse whoever runs this: sysfs takes no new file or folder.
    for (const dir of ['/sys/kernel', '/sys/rosgate-audit']) {
      const err = await acquireDirLock(dir).then(
        () => undefined,
        (e: unknown) => e as NodeJS.ErrnoException,
      );
      t.match(err?.code, /^(EACCES|EPERM|EROFS)$/, dir);
      t.match(
        err?.message,
        new RegExp(
          `^the audit directory ${dir} \\(audit\\.dir, AUDIT_LOG_DIR\\) cannot be written \\(E[A-Z]+\\): mount a writable volume there`,
        ),
      );
      t.match(err?.cause, { code: err?.code }, 'the original error is the cause');
    }
  },
);
