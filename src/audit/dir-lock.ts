/**
 * One process per audit folder. Two writers on one folder each continue
 * the chain from what they last saw and fork it (duplicate seq numbers), so
 * a process takes `rosgate.lock` in the folder at start and a second one
 * refuses to start. The lock names its holder (pid, host, start time), and
 * the holder touches it every `refreshMs`. A lock left by a process that is
 * gone is taken over: on the same host when its pid no longer runs, from
 * another host (a volume that moved to a new Pod) once it has not been
 * touched for `staleMs`.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, RosgateError } from '../errors.js';

/** The lock file's name inside the audit folder. */
export const LOCK_FILE = 'rosgate.lock';

/** What the lock file holds. */
export interface LockHolder {
  readonly pid: number;
  /** `os.hostname()`: the pod's name in Kubernetes. */
  readonly hostname: string;
  /** ISO 8601. */
  readonly startedAt: string;
  /** Tells this process's lock from a later one with the same pid (pid 1 in a container). */
  readonly token: string;
}

/** Options of {@link acquireDirLock}; the defaults are the real process. */
export interface DirLockOptions {
  /** @default process.pid */
  readonly pid?: number;
  /** @default os.hostname() */
  readonly hostname?: string;
  /** True when a process with this pid runs on this host. @default `process.kill(pid, 0)` */
  readonly isAlive?: (pid: number) => boolean;
  /** @default Date.now */
  readonly now?: () => number;
  /** How often the holder touches the lock file. @default 10000 */
  readonly refreshMs?: number;
  /** A lock of another host untouched this long is taken over. @default 60000 */
  readonly staleMs?: number;
  /** Ends a wait on a lock left on this host at once (a stop signal during start); the acquire rejects. */
  readonly signal?: AbortSignal | undefined;
  /** Told before that wait: whose lock, and for how long at most. */
  readonly onWait?: ((holder: LockHolder, waitMs: number) => void) | undefined;
}

/** A held lock. */
export interface DirLock {
  readonly path: string;
  readonly holder: LockHolder;
  /** The stale lock this one replaced, if any: the caller logs it. */
  readonly recovered?: LockHolder;
  /** Removes the lock file if it is still this lock's; safe to call twice. */
  release(): Promise<void>;
}

/** Lock files this process holds: a second app in one process on one folder is refused too. */
const held = new Set<string>();

/** True when `pid` runs: signal 0 checks without sending (EPERM: it runs as someone else). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (
      Number.isInteger(value.pid) &&
      typeof value.hostname === 'string' &&
      typeof value.startedAt === 'string' &&
      typeof value.token === 'string'
    )
      return value as LockHolder;
  } catch {
    // Not a lock rosgate wrote: refused below, never removed.
  }
  return undefined;
}

function errorCode(err: unknown): unknown {
  return (err as NodeJS.ErrnoException).code;
}

/** The lock file's text and when it was last touched, or undefined when it is gone. */
async function readLock(path: string): Promise<{ text: string; mtimeMs: number } | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const { mtimeMs } = await handle.stat();
    return { text: await handle.readFile('utf8'), mtimeMs };
  } finally {
    await handle.close();
  }
}

/** The lock file's text, or undefined when it is gone. */
async function readIfPresent(path: string): Promise<string | undefined> {
  return (await readLock(path))?.text;
}

/** Errors that say the folder cannot be written, whatever is in it. */
const NOT_WRITABLE = new Set(['EROFS', 'EACCES', 'EPERM']);

/**
 * `err` of creating the folder or its lock, reworded to name the setting
 * and the way out when the folder cannot be written (a read-only root
 * filesystem without a volume there); its `code` stays and it is the cause.
 */
function notWritable(err: unknown, dir: string): unknown {
  const code = errorCode(err);
  if (typeof code !== 'string' || !NOT_WRITABLE.has(code)) return err;
  return Object.assign(
    new Error(
      `the audit directory ${dir} (audit.dir, AUDIT_LOG_DIR) cannot be written (${code}): ` +
        `mount a writable volume there (a read-only root filesystem needs one), point ` +
        `AUDIT_LOG_DIR at a writable folder, or set AUDIT_LOG_TO_FILE=false to log the records`,
      { cause: err },
    ),
    { code },
  );
}

function lockedError(
  dir: string,
  path: string,
  holder: LockHolder | undefined,
  staleMs?: number,
): RosgateError {
  const who =
    holder === undefined
      ? `an unreadable lock file`
      : `rosgate pid ${holder.pid} on host ${holder.hostname} (since ${holder.startedAt}` +
        (staleMs === undefined ? ')' : `; taken over once not refreshed for ${staleMs / 1000} s)`);
  return new RosgateError(
    ErrorCode.AuditLocked,
    `the audit directory ${dir} is held by ${who}: two processes on one directory would fork ` +
      `the audit chain. Give each process its own AUDIT_LOG_DIR (audit.dir), or stop the other ` +
      `one; if it is gone for good, remove ${path}`,
    { details: { dir, path, ...(holder === undefined ? {} : { holder }) } },
  );
}

/**
 * Takes the lock of audit folder `dir` (created when missing), or throws a
 * `ROSGATE_AUDIT_LOCKED` error naming the folder and the holder.
 *
 * The lock file is created exclusively (`O_EXCL`), so two processes never
 * both take it. A lock of this host whose pid no longer runs is removed and
 * taken, and so is one with this process's own pid that this process does
 * not hold (a restarted container is pid 1 again). A lock of another host
 * is judged by its age only (its pid means nothing here); one that does not
 * read as a lock (a holder that has not finished writing it) is never
 * taken over.
 */
export async function acquireDirLock(dir: string, options: DirLockOptions = {}): Promise<DirLock> {
  const pid = options.pid ?? process.pid;
  const host = options.hostname ?? hostname();
  const isAlive = options.isAlive ?? isProcessAlive;
  const now = options.now ?? Date.now;
  const { refreshMs = 10_000, staleMs = 60_000 } = options;
  const path = join(dir, LOCK_FILE);
  await mkdir(dir, { recursive: true }).catch((err: unknown) => {
    throw notWritable(err, dir);
  });
  if (held.has(path)) throw lockedError(dir, path, parseHolder((await readIfPresent(path)) ?? ''));
  const holder: LockHolder = {
    pid,
    hostname: host,
    startedAt: new Date(now()).toISOString(),
    token: randomUUID(),
  };
  const text = `${JSON.stringify(holder)}\n`;
  let recovered: LockHolder | undefined;
  // A few rounds: a stale lock removed here may be taken by a third process first.
  for (let round = 0; round < 3; round++) {
    const isCreated = await createExclusive(path, text).catch((err: unknown) => {
      throw notWritable(err, dir);
    });
    if (isCreated) {
      held.add(path);
      // Touched while held, so another host can tell a live lock from one left behind.
      const refresh = setInterval(() => {
        const at = new Date(now());
        utimes(path, at, at).catch(() => undefined);
      }, refreshMs);
      refresh.unref();
      return {
        path,
        holder,
        ...(recovered === undefined ? {} : { recovered }),
        release: async () => {
          if (!held.has(path)) return;
          held.delete(path);
          clearInterval(refresh);
          if ((await readIfPresent(path)) === text) await unlink(path);
        },
      };
    }
    const lock = await readLock(path);
    /* c8 ignore next -- a race: the holder released between our create and this read */
    if (lock === undefined) continue;
    const found = lock.text;
    const other = parseHolder(found);
    const isStale =
      other !== undefined &&
      (other.hostname === host
        ? other.pid === pid || !isAlive(other.pid)
        : now() - lock.mtimeMs > staleMs);
    if (!isStale)
      throw lockedError(dir, path, other, other?.hostname !== host ? staleMs : undefined);
    if (
      other.hostname === host &&
      (await isStillTouched(path, lock.mtimeMs, refreshMs, now, options, other))
    )
      throw lockedError(dir, path, other);
    // Remove it only if it is still the lock judged stale, not a newer one;
    // if that fails, the next round finds it again.
    if ((await readIfPresent(path)) === found) await unlink(path).catch(() => undefined);
    recovered = other;
  }
  throw lockedError(dir, path, parseHolder((await readIfPresent(path)) ?? ''));
}

/**
 * A pid says little across containers: every container's first process is
 * pid 1, and one in another pid namespace looks gone. A lock touched within
 * the last refreshes has a live holder, whatever its pid: one touched lately
 * is watched until it would have been touched again (a restart after a
 * crash waits that long at most). True when it was touched meanwhile.
 */
async function isStillTouched(
  path: string,
  mtimeMs: number,
  refreshMs: number,
  now: () => number,
  { signal, onWait }: Pick<DirLockOptions, 'signal' | 'onWait'>,
  holder: LockHolder,
): Promise<boolean> {
  const waitMs = mtimeMs + refreshMs * 1.5 - now();
  if (waitMs <= 0) return false;
  onWait?.(holder, waitMs);
  signal?.throwIfAborted();
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, waitMs);
    signal?.addEventListener('abort', done);
  });
  signal?.throwIfAborted();
  const again = await readLock(path);
  return again !== undefined && again.mtimeMs !== mtimeMs;
}

/** Creates `path` holding `text` unless it exists: true when created. */
async function createExclusive(path: string, text: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'wx');
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    throw err;
  }
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}
