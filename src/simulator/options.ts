import { ErrorCode, RosgateError } from '../errors.js';
import type { DecoderLimits } from '../protocol/index.js';
import { parseVersion } from './version.js';

/** Timer functions the simulator schedules with; tests may inject their own. */
export interface SimulatorTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** What a connection past `maxSessions` gets. */
export type TooManySessionsAction = 'fatal' | 'close';

/** How `/cancel =tag=X` for a tag that is not running is answered (unconfirmed, §5). */
export type CancelUnknownTagReply = 'done' | 'trap';

/**
 * Where `.tag` goes in a reply: `first`, right after the reply word (`!re`,
 * `!done`, `!trap`, `!empty`) as current RouterOS writes it; `last`, after
 * every other word, as old captures show it (docs/routeros-api.md §2).
 */
export type TagPosition = 'first' | 'last';

/**
 * Which `.tag` word a command with several is answered on: the `first`, or
 * the `last`, as a later duplicate attribute wins (unconfirmed, §4).
 */
export type DuplicateTags = 'first' | 'last';

/**
 * Which `listen` commands are refused with a trap (the manual: listen "may
 * not work everywhere"): none, those with `=.proplist=`, or all of them.
 */
export type RefuseListen = 'off' | 'proplist' | 'always';

/** Options of {@link startSimulator}; every one has a default. */
export interface SimulatorOptions {
  /** Address to listen on. @default '127.0.0.1' */
  host?: string;
  /** TCP port; 0 picks a free one. @default 0 */
  port?: number;
  /** The API user. @default 'admin' */
  user?: string;
  /** The API user's password (text: UTF-8 on the wire, as clients send it). @default '' */
  password?: string;
  /** More API users, name to password (a router's other accounts). @default none */
  users?: Readonly<Record<string, string>>;
  /**
   * RouterOS version to imitate: decides login methods, `!empty` replies and
   * the version `/system/resource` reports (docs/routeros-api.md §3, §11).
   * @default '7.19'
   */
  version?: string;
  /** Seed of the generated data and of live values. @default 1 */
  seed?: number;
  /** Ethernet interfaces (`ether1`..`etherN`). @default 5 */
  interfaces?: number;
  /** Generated `/ip/hotspot/user` entries. @default 50 */
  hotspotUsers?: number;
  /** Generated `/ppp/secret` entries. @default 20 */
  pppSecrets?: number;
  /** Connections served at once (`/ip service max-sessions`). @default 20 */
  maxSessions?: number;
  /**
   * What a connection past `maxSessions` gets: `fatal` writes
   * `!fatal too many sessions` and closes, `close` just closes (unconfirmed, §8).
   * @default 'fatal'
   */
  tooManySessions?: TooManySessionsAction;
  /** A busy router: commands of one connection run one after the other. @default false */
  oneCommandAtATime?: boolean;
  /** Delay before each command runs, in ms (changeable via `faults`). @default 0 */
  latencyMs?: number;
  /** Delay before each `!re` of a print, in ms (changeable via `faults`). @default 0 */
  rowLatencyMs?: number;
  /**
   * A router's pace on long prints: after every 100th `!re` of a print, wait
   * this many ms before the next row (changeable via `faults`). With
   * `latencyMs` it makes the simulator cost what a router costs: some ms per
   * command and some per 100 rows. @default 0
   */
  latencyPer100RowsMs?: number;
  /**
   * Sentences a connection may send before it has logged in; the next one is
   * answered with `!fatal` and the connection closed (§3.4).
   * @default 10
   */
  preLoginMaxSentences?: number;
  /** Trap text for a command sent before login (unconfirmed, §3.4). @default 'not logged in' */
  notLoggedInMessage?: string;
  /** Reply to `/cancel =tag=` of a tag that is not running. @default 'done' */
  cancelUnknownTagReply?: CancelUnknownTagReply;
  /** Close the connection after a refused login (unconfirmed, §3.1). @default false */
  failedLoginCloses?: boolean;
  /** Where `.tag` goes in every reply. @default 'first' */
  tagPosition?: TagPosition;
  /** Which `.tag` word a command with several is answered on. @default 'first' */
  duplicateTags?: DuplicateTags;
  /** Refuse `listen` with a trap: never, with `.proplist`, or always (changeable via `faults`). @default 'off' */
  refuseListen?: RefuseListen;
  /** Answer prints without rows with `!empty` first. @default true from version 7.18 */
  emptyReplies?: boolean;
  /**
   * Real milliseconds that stand for one router second in streaming
   * commands: the monitor-traffic, torch and ping period, and the unit of
   * `=interval=`, `=duration=` and ping's `=interval=`.
   * @default 1000
   */
  streamIntervalMs?: number;
  /** Trap text for an unknown argument (v7 form unconfirmed, §6). @default name => `unknown parameter ${name}` */
  unknownParameterMessage?: (name: string) => string;
  /** Trap text when an id or name matches nothing. @default 'no such item' */
  noSuchItemMessage?: string;
  /** Commands running at once on one connection; more are refused with a trap. @default 64 */
  maxCommandsPerSession?: number;
  /**
   * Bytes a connection may have waiting: sentences read but not worked on
   * yet (behind a `/login` under way, or while `stopAnswering` is on) and
   * replies held while `stopAnswering` is on. Past it the connection is
   * closed, as a router whose buffer overflowed would. @default 1048576 (1 MiB)
   */
  maxBacklogBytes?: number;
  /** Port of the HTTP control server on `host`; undefined for none. @default undefined */
  controlPort?: number;
  /** Decoder limits per connection. @default 1 MiB words, 1024 words, 4 MiB sentences */
  decoderLimits?: Partial<DecoderLimits>;
  /** Timers for latency and streams. @default the global setTimeout/clearTimeout */
  timers?: SimulatorTimers;
  /** Wall clock in ms, for uptime and `/system/clock`. @default Date.now */
  now?: () => number;
}

export type ResolvedOptions = Required<
  Omit<SimulatorOptions, 'emptyReplies' | 'controlPort' | 'decoderLimits'>
> & {
  emptyReplies: boolean | undefined;
  controlPort: number | undefined;
  decoderLimits: DecoderLimits;
};

/** Every {@link RefuseListen} mode. */
export const REFUSE_LISTEN_MODES: readonly RefuseListen[] = ['off', 'proplist', 'always'];

export const DEFAULT_DECODER_LIMITS: Readonly<DecoderLimits> = Object.freeze({
  maxWordBytes: 1024 * 1024,
  maxWordsPerSentence: 1024,
  maxSentenceBytes: 4 * 1024 * 1024,
});

const globalTimers: SimulatorTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

function isInt(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** Fill in defaults and check every option; all problems are reported together (docs/architecture.md code rule 8). */
export function resolveOptions(options: SimulatorOptions = {}): ResolvedOptions {
  const resolved: ResolvedOptions = {
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    user: options.user ?? 'admin',
    password: options.password ?? '',
    users: options.users ?? {},
    version: options.version ?? '7.19',
    seed: options.seed ?? 1,
    interfaces: options.interfaces ?? 5,
    hotspotUsers: options.hotspotUsers ?? 50,
    pppSecrets: options.pppSecrets ?? 20,
    maxSessions: options.maxSessions ?? 20,
    tooManySessions: options.tooManySessions ?? 'fatal',
    oneCommandAtATime: options.oneCommandAtATime ?? false,
    latencyMs: options.latencyMs ?? 0,
    rowLatencyMs: options.rowLatencyMs ?? 0,
    latencyPer100RowsMs: options.latencyPer100RowsMs ?? 0,
    preLoginMaxSentences: options.preLoginMaxSentences ?? 10,
    notLoggedInMessage: options.notLoggedInMessage ?? 'not logged in',
    cancelUnknownTagReply: options.cancelUnknownTagReply ?? 'done',
    failedLoginCloses: options.failedLoginCloses ?? false,
    emptyReplies: options.emptyReplies,
    tagPosition: options.tagPosition ?? 'first',
    duplicateTags: options.duplicateTags ?? 'first',
    refuseListen: options.refuseListen ?? 'off',
    streamIntervalMs: options.streamIntervalMs ?? 1000,
    unknownParameterMessage:
      options.unknownParameterMessage ?? ((name) => `unknown parameter ${name}`),
    noSuchItemMessage: options.noSuchItemMessage ?? 'no such item',
    maxCommandsPerSession: options.maxCommandsPerSession ?? 64,
    maxBacklogBytes: options.maxBacklogBytes ?? 1024 * 1024,
    controlPort: options.controlPort,
    decoderLimits: { ...DEFAULT_DECODER_LIMITS, ...options.decoderLimits },
    timers: options.timers ?? globalTimers,
    now: options.now ?? Date.now,
  };
  const problems: string[] = [];
  const check = (ok: boolean, problem: string): void => {
    if (!ok) problems.push(problem);
  };
  check(isInt(resolved.port, 0, 65535), 'port must be an integer 0-65535');
  check(
    resolved.controlPort === undefined || isInt(resolved.controlPort, 0, 65535),
    'controlPort must be an integer 0-65535',
  );
  check(parseVersion(resolved.version) !== undefined, 'version must look like 7.19 or 6.45.1');
  check(isInt(resolved.seed, 0, 0xffffffff), 'seed must be an integer 0-4294967295');
  check(isInt(resolved.interfaces, 1, 512), 'interfaces must be an integer 1-512');
  check(isInt(resolved.hotspotUsers, 0, 1_000_000), 'hotspotUsers must be an integer 0-1000000');
  check(isInt(resolved.pppSecrets, 0, 1_000_000), 'pppSecrets must be an integer 0-1000000');
  check(isInt(resolved.maxSessions, 1, 100_000), 'maxSessions must be an integer 1-100000');
  check(
    ['fatal', 'close'].includes(resolved.tooManySessions),
    "tooManySessions must be 'fatal' or 'close'",
  );
  check(
    ['done', 'trap'].includes(resolved.cancelUnknownTagReply),
    "cancelUnknownTagReply must be 'done' or 'trap'",
  );
  check(['first', 'last'].includes(resolved.tagPosition), "tagPosition must be 'first' or 'last'");
  check(
    ['first', 'last'].includes(resolved.duplicateTags),
    "duplicateTags must be 'first' or 'last'",
  );
  check(
    REFUSE_LISTEN_MODES.includes(resolved.refuseListen),
    "refuseListen must be 'off', 'proplist' or 'always'",
  );
  check(isInt(resolved.latencyMs, 0, 600_000), 'latencyMs must be an integer 0-600000');
  check(isInt(resolved.rowLatencyMs, 0, 600_000), 'rowLatencyMs must be an integer 0-600000');
  check(
    isInt(resolved.latencyPer100RowsMs, 0, 600_000),
    'latencyPer100RowsMs must be an integer 0-600000',
  );
  check(
    isInt(resolved.preLoginMaxSentences, 1, 1_000_000),
    'preLoginMaxSentences must be an integer 1-1000000',
  );
  check(
    isInt(resolved.streamIntervalMs, 1, 3_600_000),
    'streamIntervalMs must be an integer 1-3600000',
  );
  check(
    isInt(resolved.maxCommandsPerSession, 1, 100_000),
    'maxCommandsPerSession must be an integer 1-100000',
  );
  check(
    isInt(resolved.maxBacklogBytes, 1, 1024 * 1024 * 1024),
    'maxBacklogBytes must be an integer 1-1073741824',
  );
  if (problems.length > 0) {
    throw new RosgateError(ErrorCode.Config, `invalid simulator options: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  return resolved;
}
