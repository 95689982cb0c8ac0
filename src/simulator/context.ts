import { TrapError, type Database } from './database.js';
import type { RefuseListen, ResolvedOptions } from './options.js';
import type { Prng } from './prng.js';
import type { Command } from './command.js';
import type { VersionProfile } from './version.js';

/** What the simulator has counted since it started; read live, or as JSON over the control port. */
export interface SimulatorCounters {
  /** TCP connections accepted by the listener (those closed at once included). */
  connectionsAccepted: number;
  /**
   * Connections closed at once (`refuseConnections` true or `'close'`, past
   * `maxSessions`); those the OS refuses (`'refuse'`) never reach the simulator.
   */
  connectionsRefused: number;
  /** Sessions open now. */
  sessionsNow: number;
  /** Most sessions open at once. */
  sessionsPeak: number;
  loginsOk: number;
  loginsFailed: number;
  /** Sentences received, by command word (`/ip/hotspot/user/print`); at most 256 keys, then `(other)`. */
  commands: Record<string, number>;
  /** `/cancel` commands received. */
  cancels: number;
  /** Streaming commands running now (listen, follow, interval, monitor-traffic, torch, endless ping). */
  streamsNow: number;
  /**
   * Sentences read and not worked on yet, across connections: behind a
   * `/login` under way, or while `stopAnswering` is on.
   */
  sentencesWaiting: number;
}

export function createCounters(): SimulatorCounters {
  return {
    connectionsAccepted: 0,
    connectionsRefused: 0,
    sessionsNow: 0,
    sessionsPeak: 0,
    loginsOk: 0,
    loginsFailed: 0,
    // No prototype: a peer's command word (`constructor`, `__proto__`) is only ever a key.
    commands: Object.create(null) as Record<string, number>,
    cancels: 0,
    streamsNow: 0,
    sentencesWaiting: 0,
  };
}

const MAX_COMMAND_KEYS = 256;

/** Count one sentence by its command word, keeping the record bounded. */
export function countCommand(counters: SimulatorCounters, command: string): void {
  const key =
    Object.hasOwn(counters.commands, command) ||
    Object.keys(counters.commands).length < MAX_COMMAND_KEYS
      ? command
      : '(other)';
  counters.commands[key] = (counters.commands[key] ?? 0) + 1;
}

/**
 * How new connections are turned away: `false` not at all; `true` or
 * `'close'` accepted and closed at once (a router at its session limit);
 * `'refuse'` refused by the OS, ECONNREFUSED, as by a router that is down:
 * the listening socket is closed (open sessions stay: `dropAll()` cuts them)
 * and opened again on the same port when the fault is cleared.
 */
export type RefuseConnections = boolean | 'close' | 'refuse';

/** Switches that make the simulator misbehave; all may change at any time. */
export interface SimulatorFaults {
  /**
   * A stalled router: each connection reads on but works on nothing and
   * writes nothing; what it reads and what its running commands would write
   * wait, in order, up to `maxBacklogBytes` per connection (past it the
   * connection is closed, a router's buffer overflowing). Turned off, each
   * connection writes what waited and works through its backlog in order.
   */
  stopAnswering: boolean;
  /** Delay before each command runs, in ms. */
  latencyMs: number;
  /** Delay before each `!re` of a print, in ms. */
  rowLatencyMs: number;
  /** Pause after every 100th `!re` of a print, in ms. */
  latencyPer100RowsMs: number;
  /** Turn new connections away: see {@link RefuseConnections}. */
  refuseConnections: RefuseConnections;
  /** Refuse `listen` with a trap: never, with `.proplist`, or always. */
  refuseListen: RefuseListen;
  /** Close every connection now; returns how many were closed. */
  dropAll(): number;
  /**
   * Resolves once the listener is as `refuseConnections` was last set (at
   * once, unless it was just cleared from `'refuse'` and the socket is
   * reopening); rejects when the port could not be had back (set the fault
   * again to retry).
   */
  reopened(): Promise<void>;
}

/** Everything a session and its commands share. */
export interface SimulatorContext {
  readonly options: ResolvedOptions;
  readonly profile: VersionProfile;
  readonly db: Database;
  readonly counters: SimulatorCounters;
  readonly faults: SimulatorFaults;
  /** Live values (traffic rates, ping times), seeded. */
  readonly live: Prng;
}

/** Count `command` as a running stream until it ends. */
export function markStream(ctx: SimulatorContext, command: Command): void {
  ctx.counters.streamsNow++;
  command.onEnd(() => {
    ctx.counters.streamsNow--;
  });
}

/** Split a comma list (`*1,*2`), dropping empty parts. */
export function splitList(value: Buffer | undefined): string[] {
  if (value === undefined) return [];
  return value
    .toString('latin1')
    .split(',')
    .filter((part) => part.length > 0);
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?$/;
const CLOCK = /^(\d+):(\d{1,2}):(\d{1,2})$/;
const UNIT_SECONDS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 604800,
};

/** A RouterOS duration (`3`, `3s`, `500ms`, `1m`, `00:00:03`) in router seconds, or undefined. */
export function parseDuration(text: string): number | undefined {
  const clock = CLOCK.exec(text);
  if (clock !== null) return Number(clock[1]) * 3600 + Number(clock[2]) * 60 + Number(clock[3]);
  const m = DURATION.exec(text);
  if (m === null) return undefined;
  return Number(m[1]) * (UNIT_SECONDS[m[2] ?? 's'] as number);
}

/** Refuse the first argument not in `allowed`, as the router does (`unknown parameter`). */
export function checkArguments(
  ctx: SimulatorContext,
  args: Map<string, Buffer>,
  allowed: ReadonlySet<string>,
): void {
  for (const name of args.keys()) {
    if (!allowed.has(name)) throw new TrapError(ctx.options.unknownParameterMessage(name));
  }
}
