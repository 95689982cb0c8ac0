import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { AuditConfig } from '../config/audit.js';
import { ErrorCode, type RosgateError } from '../errors.js';
import {
  SETTLED,
  SinkDecorator,
  toRosgateError,
  type CommandContext,
  type CommandHandler,
  type CommandOutcome,
  type CommandSink,
  type Exchange,
  type LoginEvent,
  type SessionObserver,
  type Stage,
  type StageHandle,
} from '../pipeline.js';
import { isInterruptedCategory, type Sentence } from '../protocol/index.js';
import { AuditKind, AuditResult, type AuditLevel, type AuditValue } from './audit-record.js';
import type { AuditKeys } from './audit-keys.js';
import { acquireDirLock, type DirLock } from './dir-lock.js';
import {
  FileAuditWriter,
  ZERO_AUDIT_STATS,
  type AuditFileReplacedEvent,
  type AuditStats,
  type AuditWriter,
} from './audit-writer.js';
import type { AuditAppender } from './file-appender.js';
import { LevelPolicy } from './level-policy.js';
import {
  NO_REPLY,
  commandEvent,
  stamped,
  type CommandFacts,
  type EventFields,
  type KeptReply,
} from './command-facts.js';
import { LogAuditWriter } from './log-audit-writer.js';
import { ThreadAuditWriter } from './thread-audit-writer.js';
import { Redactor } from './redactor.js';
import { monotonicNow } from '../clock.js';

/** Options of {@link createAuditStage}. */
export interface AuditStageOptions {
  /** The validated `audit:` section. */
  readonly config: AuditConfig;
  /** From `resolveAuditKeys()`. @default no keys */
  readonly keys?: AuditKeys;
  readonly logger: Logger;
  /** @default Date.now */
  readonly now?: () => number;
  /** Where a relative `audit.dir` starts. @default process.cwd() */
  readonly cwd?: string;
  /** The disk; tests stand in a slow one. @default a FileAppender */
  readonly appender?: AuditAppender;
  /** The live file was found replaced or removed on disk (logged and counted already). */
  readonly onFileReplaced?: (event: AuditFileReplacedEvent) => void;
  /** This replica's id, in every record it writes (a group of replicas, issue 18). @default none */
  readonly replica?: string | undefined;
}

/** A source address or user locked out after failed logins. */
export interface AuditLockoutEvent {
  readonly router?: string;
  readonly address?: string;
  readonly user?: string;
  readonly failures?: number;
  readonly lockedForMs?: number;
}

/** Lockouts ended by hand (`DELETE /monitoring/lockouts`): what was asked, what was cleared. */
export interface AuditLockoutsClearedEvent {
  /** The filters given (`router`, `source`, `user`); empty clears all. */
  readonly filter: Readonly<Record<string, string>>;
  /** Each lockout cleared: its router, scope, source and user. */
  readonly cleared: readonly Readonly<Record<string, string>>[];
  /** Who asked: the admin client's address. */
  readonly address?: string | undefined;
}

/** Clients ended by hand (`DELETE /monitoring/clients`): what was asked, whom it ended. */
export interface AuditClientsEndedEvent {
  /** The filters given (`router`, `source`, `user`, `id`). */
  readonly filter: Readonly<Record<string, string | number>>;
  /** Each client ended: its router, connection id, source and user. */
  readonly ended: readonly Readonly<Record<string, string | number>>[];
  /** Who asked: the admin client's address. */
  readonly address?: string | undefined;
}

/** A circuit breaker changed state (`closed`, `open`, `halfOpen`). */
export interface AuditBreakerEvent {
  readonly router: string;
  readonly from: string;
  readonly to: string;
}

/** A router became unreachable (`down`, with the RosgateError code) or reachable again (`up`). */
export interface AuditRouterEvent {
  readonly router: string;
  readonly state: 'down' | 'up';
  readonly code?: string;
}

/** The configuration changed: which keys, by whom; never the values. */
export interface AuditConfigChangeEvent {
  /** Changed key paths: `cache.rules`, `routers[0].pool.max`. */
  readonly keys: readonly string[];
  /** `admin` (a PUT on the admin port), `reload`, ... */
  readonly source: string;
  readonly user?: string;
  readonly address?: string;
}

/** Events from outside the command path that are always recorded. */
export interface AuditEvents {
  lockout(event: AuditLockoutEvent): void;
  lockoutsCleared(event: AuditLockoutsClearedEvent): void;
  clientsEnded(event: AuditClientsEndedEvent): void;
  breakerChange(event: AuditBreakerEvent): void;
  routerChange(event: AuditRouterEvent): void;
  configChange(event: AuditConfigChangeEvent): void;
  start(event?: { readonly version?: string }): void;
  stop(event?: { readonly reason?: string }): void;
}

/** What {@link createAuditStage} gives the composition root. */
export interface AuditTrail extends StageHandle<AuditStats> {
  /** The pipeline stage: records every command at its outcome. */
  readonly stage: Stage;
  /** Logins, failed logins and logouts, from the client sessions. */
  readonly observer: SessionObserver;
  readonly events: AuditEvents;
  /**
   * Records a command that policy (outside the audit stage) refused, with
   * the rule and verdict from `context.notes`.
   */
  recordDenied(context: CommandContext, error: RosgateError): void;
  /** Records a command that policy could not decide on (it threw) and refused. */
  recordFailed(context: CommandContext, error: RosgateError): void;
  readonly writer: AuditWriter;
  stats(): AuditStats;
  /**
   * Takes the audit folder's lock (when writing files): one process per
   * folder. Rejects with `ROSGATE_AUDIT_LOCKED`, naming the folder and the
   * holder, when another process holds it. `signal` ends a wait on a lock
   * left on this host (a stop during start): it then rejects with its reason.
   */
  acquire(signal?: AbortSignal): Promise<void>;
  /** Releases the folder's lock; after `writer.close()`. */
  release(): Promise<void>;
  /** Flushes what is buffered and closes the trail's files (the writer's `close`). */
  close(): Promise<void>;
}

type Fields = EventFields;
type Details = Record<string, AuditValue>;

/** A command's outcome as the stage saw it. */
interface Outcome {
  readonly result: AuditResult;
  readonly rows: number;
  readonly error?: RosgateError | undefined;
  readonly trap?: { readonly category?: string; readonly message?: string } | undefined;
  /** The reply rows kept (at `full`); undefined when none were. */
  readonly reply?: KeptReply | undefined;
  /** The `.id` the router gave a new row (`!done =ret=*1A` of an add). */
  readonly ret?: string | undefined;
}

const DISABLED_WRITER: AuditWriter = {
  write: () => undefined,
  flush: () => Promise.resolve(),
  close: () => Promise.resolve(),
  head: () => undefined,
  stats: () => ZERO_AUDIT_STATS,
};

function resultOf(error: RosgateError): AuditResult {
  if (error.code === ErrorCode.PolicyDenied) return AuditResult.Denied;
  if (error.code === ErrorCode.Interrupted) return AuditResult.Cancelled;
  return AuditResult.Error;
}

/**
 * The audit trail: a stage that records each command once, at its outcome
 * (request and result in one record), plus the session observer and the
 * events recorded from elsewhere. Levels come from `audit.levels`; denials,
 * flags, logins, lockouts and config changes are recorded at `metadata` at
 * least whatever the rules say. Secrets are redacted before a record is
 * queued, so no value reaches the disk, the hash or the log.
 */
/** What the parts of the trail record with. */
interface Recording {
  readonly config: AuditConfig;
  readonly logger: Logger;
  /** The wall clock: records' timestamps. */
  readonly now: () => number;
  /** The clock commands' `receivedAt` is read on: their durations. */
  readonly elapsedNow: () => number;
  readonly levels: LevelPolicy;
  readonly redactor: Redactor;
  /** Queues a record: an id and the time added to `fields`. */
  readonly emit: (fields: Fields) => void;
  /** Queues a command's record: as its facts where the writer takes them, else as {@link emit} does. */
  readonly emitCommand: (facts: CommandFacts, reply: KeptReply) => void;
  /** Runs `record`, logging what it throws instead of throwing it. */
  readonly safely: (record: () => void) => void;
  /** Logs a failure to record (what `safely` does with what it catches). */
  readonly failed: (err: unknown) => void;
}

/** Records a command at `level` (or at `metadata`, when denied, flagged or noted as deny at `none`). */
type RecordCommand = (context: CommandContext, level: AuditLevel, outcome: Outcome) => void;

/** The writer `config` asks for: none when disabled, the log, or files in `dir`. */
function auditWriter(
  options: AuditStageOptions,
  { config, logger, now }: Pick<Recording, 'config' | 'logger' | 'now'>,
  dir: string | undefined,
  keys: AuditKeys,
): AuditWriter {
  if (!config.enabled) return DISABLED_WRITER;
  if (dir === undefined) return new LogAuditWriter(logger);
  // A disk or clock a test stands in cannot cross to another thread.
  const isThreaded = config.thread && options.appender === undefined && options.now === undefined;
  return isThreaded
    ? new ThreadAuditWriter({
        ...config,
        dir,
        replica: options.replica,
        integrityKey: keys.integrityKey,
        encryptionKey: keys.encryptionKey,
        logger,
        ...(options.onFileReplaced === undefined ? {} : { onFileReplaced: options.onFileReplaced }),
      })
    : new FileAuditWriter({
        ...config,
        dir,
        integrityKey: keys.integrityKey,
        encryptionKey: keys.encryptionKey,
        logger,
        now,
        ...(options.appender === undefined ? {} : { appender: options.appender }),
        ...(options.onFileReplaced === undefined ? {} : { onFileReplaced: options.onFileReplaced }),
      });
}

/** `emit` and `safely` over `writer`; each record names `replica` when given. */
function recording(
  writer: AuditWriter,
  parts: Omit<Recording, 'emit' | 'emitCommand' | 'safely' | 'failed'>,
  replica: string | undefined,
): Recording {
  const { logger, now, redactor } = parts;
  const emit = (fields: Fields): void => writer.write(stamped(fields, now(), replica));
  const emitCommand = (facts: CommandFacts, reply: KeptReply): void => {
    // Reply rows are kept as values: a `full` record is made here.
    if (facts.level !== 'full' && writer.writeCommand !== undefined) writer.writeCommand(facts);
    else emit(commandEvent(facts, redactor, reply));
  };
  const failed = (err: unknown): void => {
    logger.error({ code: ErrorCode.Internal, err }, 'audit record failed');
  };
  /** Recording must never break a command: a failure is logged, the command goes on. */
  const safely = (record: () => void): void => {
    try {
      record();
    } catch (err) {
      failed(err);
    }
  };
  return { ...parts, emit, emitCommand, safely, failed };
}

/** Records a command's request and outcome in one record. */
function commandRecorder({ emitCommand, elapsedNow, now }: Recording): RecordCommand {
  const recordCommand = (context: CommandContext, level: AuditLevel, outcome: Outcome): void => {
    const { notes } = context;
    const isDenied = outcome.result === AuditResult.Denied;
    const flags = notes.flags !== undefined && notes.flags.length > 0 ? notes.flags : undefined;
    const isFlagged = notes.verdict === 'flag' || flags !== undefined;
    // A denial policy only noted (monitor mode) is recorded like one it enforced.
    if (level === 'none' && !isDenied && !isFlagged && notes.verdict !== 'deny') return;
    emitCommand(
      {
        timestamp: now(),
        kind: isDenied ? AuditKind.PolicyDenied : isFlagged ? AuditKind.Flag : AuditKind.Command,
        level: level === 'none' ? 'metadata' : level,
        result: outcome.result,
        user: context.user,
        address: context.address,
        router: context.router,
        connId: context.clientId,
        sentence: context.sentence,
        path: context.command.menu,
        verb: context.command.verb,
        rule: notes.rule,
        verdict: notes.verdict,
        cache: notes.cache,
        rows: outcome.rows,
        duration: elapsedNow() - context.receivedAt,
        error: outcome.error,
        flags,
        ret: outcome.ret,
        trap: outcome.trap,
      },
      outcome.reply ?? NO_REPLY,
    );
  };
  return recordCommand;
}

/**
 * One command's answer on its way to the client, as the audit stage sees
 * it: rows counted, the trap and (at `full`) the reply rows kept, and the
 * record written at the end. One object per command, no closures.
 */
class AuditSink extends SinkDecorator implements Exchange {
  readonly #context: CommandContext;
  readonly #level: AuditLevel;
  readonly #recording: Recording;
  readonly #recordCommand: RecordCommand;
  #exchange: Exchange = SETTLED;
  #rows = 0;
  #reply: AuditValue[] | undefined;
  #isReplyTruncated = false;
  #trap: Outcome['trap'];

  constructor(
    sink: CommandSink,
    context: CommandContext,
    level: AuditLevel,
    recording: Recording,
    recordCommand: RecordCommand,
  ) {
    super(sink);
    this.#context = context;
    this.#level = level;
    this.#recording = recording;
    this.#recordCommand = recordCommand;
  }

  /** Passes the command on; a handler that throws is a refusal, recorded like one. */
  start(next: CommandHandler): Exchange {
    try {
      this.#exchange = next.handle(this.#context, this);
    } catch (err) {
      this.refuse(toRosgateError(err));
      return SETTLED;
    }
    return this;
  }

  cancel(onAnswered: () => void): void {
    this.#exchange.cancel(onAnswered);
  }

  protected override onReply(sentence: Sentence): void {
    // Recording must never break a command (see `safely`), without a closure per reply.
    try {
      this.#observe(sentence);
    } catch (err) {
      this.#recording.failed(err);
    }
  }

  #observe(sentence: Sentence): void {
    if (sentence.command === '!re') {
      this.#rows++;
      if (this.#level === 'full') this.#keepRow(sentence);
    } else if (sentence.command === '!trap') {
      this.#trap = {
        ...optional('category', sentence.attributeString('category')),
        ...optional('message', sentence.attributeString('message')),
      };
    }
  }

  protected override onEnd(outcome: CommandOutcome): void {
    if (outcome.type === 'refused') {
      this.#record(resultOf(outcome.error), outcome.error, undefined);
      return;
    }
    const ret =
      this.#context.command.verb === 'add' ? outcome.sentence.attributeString('ret') : undefined;
    const trap = this.#trap;
    // By the answer, not by the asking: a command that ended before its
    // cancel reached the router ran, and is recorded as it ended.
    const isInterrupted = isInterruptedCategory(trap?.category);
    this.#record(
      isInterrupted
        ? AuditResult.Cancelled
        : trap === undefined
          ? AuditResult.Success
          : AuditResult.Failure,
      undefined,
      ret,
    );
  }

  #keepRow(sentence: Sentence): void {
    const reply = (this.#reply ??= []);
    if (reply.length < this.#recording.config.maxReplyRows) {
      reply.push(this.#recording.redactor.attributes(sentence));
    } else {
      this.#isReplyTruncated = true;
    }
  }

  #record(result: AuditResult, error: RosgateError | undefined, ret: string | undefined): void {
    const rows = this.#reply;
    const outcome: Outcome = {
      result,
      rows: this.#rows,
      reply: rows === undefined ? undefined : { rows, isTruncated: this.#isReplyTruncated },
      trap: this.#trap,
      error,
      ret,
    };
    this.#recording.safely(() => this.#recordCommand(this.#context, this.#level, outcome));
  }
}

/** The pipeline stage: records every command once, at its outcome. */
function auditStage(recording: Recording, recordCommand: RecordCommand): Stage {
  const stage: Stage = (next) => ({
    handle(context, sink): Exchange {
      const level = recording.levels.levelFor(context.command);
      return new AuditSink(sink, context, level, recording, recordCommand).start(next);
    },
  });
  return stage;
}

/** Logins, failed logins and logouts, from the client sessions. */
function sessionObserver({ emit, safely }: Recording): SessionObserver {
  const loginFields = (event: LoginEvent): Fields => ({
    kind: AuditKind.Login,
    level: 'metadata',
    category: 'authentication',
    action: 'login',
    result: AuditResult.Success,
    userId: event.user,
    ipAddress: event.address,
    router: event.router,
    connId: event.clientId,
    details: { method: event.method },
  });
  const observer: SessionObserver = {
    loginSucceeded: (event) => safely(() => emit(loginFields(event))),
    loginFailed: (event) =>
      safely(() =>
        emit({
          ...loginFields(event),
          kind: AuditKind.LoginFailed,
          result: AuditResult.Failure,
          details: { method: event.method, code: event.code, reason: event.reason },
        }),
      ),
    loggedOut: (event) =>
      safely(() =>
        emit({
          ...loginFields(event),
          kind: AuditKind.Logout,
          action: 'logout',
          duration: event.durationMs,
          details: { method: event.method, commands: event.commands },
        }),
      ),
  };
  return observer;
}

/** Events from outside the command path. */
function auditEvents({ emit, safely }: Recording): AuditEvents {
  const lifecycle = (kind: AuditKind, details: Details): void =>
    safely(() =>
      emit({
        kind,
        level: 'metadata',
        category: 'system',
        action: kind,
        result: 'success',
        details,
      }),
    );
  const events: AuditEvents = {
    lockout: (event) =>
      safely(() =>
        emit({
          kind: AuditKind.Lockout,
          level: 'metadata',
          category: 'security',
          action: 'lockout',
          result: AuditResult.Denied,
          userId: event.user,
          ipAddress: event.address,
          router: event.router,
          details: {
            ...optional('failures', event.failures),
            ...optional('lockedForMs', event.lockedForMs),
          },
        }),
      ),
    lockoutsCleared: (event) =>
      safely(() =>
        emit({
          kind: AuditKind.Lockout,
          level: 'metadata',
          category: 'security',
          action: 'unlock',
          result: AuditResult.Success,
          ipAddress: event.address,
          details: { filter: { ...event.filter }, cleared: event.cleared.map((c) => ({ ...c })) },
        }),
      ),
    clientsEnded: (event) =>
      safely(() =>
        emit({
          kind: AuditKind.Disconnect,
          level: 'metadata',
          category: 'security',
          action: 'disconnect',
          result: AuditResult.Success,
          ipAddress: event.address,
          details: { filter: { ...event.filter }, ended: event.ended.map((c) => ({ ...c })) },
        }),
      ),
    breakerChange: (event) =>
      safely(() =>
        emit({
          kind: AuditKind.Breaker,
          level: 'metadata',
          category: 'system',
          action: 'breaker',
          result: event.to === 'open' ? AuditResult.Failure : AuditResult.Success,
          router: event.router,
          details: { from: event.from, to: event.to },
        }),
      ),
    routerChange: (event) =>
      safely(() =>
        emit({
          kind: AuditKind.Router,
          level: 'metadata',
          category: 'system',
          action: 'router',
          result: event.state === 'down' ? AuditResult.Failure : AuditResult.Success,
          router: event.router,
          details: { state: event.state, ...optional('code', event.code) },
        }),
      ),
    configChange: (event) =>
      safely(() =>
        emit({
          kind: AuditKind.Config,
          level: 'metadata',
          category: 'configuration',
          action: 'config',
          result: AuditResult.Success,
          userId: event.user,
          ipAddress: event.address,
          details: { keys: [...event.keys], source: event.source },
        }),
      ),
    start: (event = {}) =>
      lifecycle(AuditKind.Start, { pid: process.pid, ...optional('version', event.version) }),
    stop: (event = {}) => lifecycle(AuditKind.Stop, { ...optional('reason', event.reason) }),
  };
  return events;
}

/** The audit folder's lock (`acquire`, `release`) when writing files to `dir`. */
function folderLock(
  dir: string | undefined,
  logger: Logger,
): Pick<AuditTrail, 'acquire' | 'release'> {
  let lock: DirLock | undefined;
  return {
    async acquire(signal) {
      if (dir === undefined || lock !== undefined) return;
      lock = await acquireDirLock(dir, {
        signal,
        onWait: (holder, waitMs) =>
          logger.warn(
            { dir, holder, waitMs },
            'the audit directory lock was left by a process of this host: waiting to see whether its holder still touches it',
          ),
      });
      const stale = lock.recovered;
      if (stale !== undefined)
        logger.warn(
          { dir, holder: stale },
          'took over the audit directory lock of a rosgate process that is gone',
        );
    },
    async release() {
      const held = lock;
      lock = undefined;
      await held?.release();
    },
  };
}

export function createAuditStage(options: AuditStageOptions): AuditTrail {
  const { config, logger, keys = {} } = options;
  const now = options.now ?? Date.now;
  // Sessions stamp `receivedAt` on the monotonic clock; an injected clock serves both.
  const elapsedNow = options.now ?? monotonicNow;
  const levels = new LevelPolicy(config.levels);
  const redactor = new Redactor(config.redact);
  const dir =
    config.enabled && config.toFile ? resolve(options.cwd ?? process.cwd(), config.dir) : undefined;
  const writer = auditWriter(options, { config, logger, now }, dir, keys);
  const recorded = recording(
    writer,
    { config, logger, now, elapsedNow, levels, redactor },
    options.replica,
  );
  const { safely } = recorded;
  const recordCommand = commandRecorder(recorded);
  const stage = auditStage(recorded, recordCommand);
  const observer = sessionObserver(recorded);
  const events = auditEvents(recorded);

  /** Records a command refused outside the stage, its result told by `resultOf`. */
  const recordRefused =
    (result: (error: RosgateError) => AuditResult) =>
    (context: CommandContext, error: RosgateError): void =>
      safely(() =>
        recordCommand(context, levels.levelFor(context.command), {
          result: result(error),
          rows: 0,
          error,
        }),
      );
  return {
    stage: config.enabled ? stage : (next) => next,
    observer,
    events,
    // Whatever refused it (a rule, an input rule, an attack marker), policy denied it.
    recordDenied: recordRefused(() => AuditResult.Denied),
    recordFailed: recordRefused(resultOf),
    writer,
    stats: () => writer.stats(),
    ...folderLock(dir, logger),
    close: () => writer.close(),
  };
}

/** `{ [key]: value }`, or nothing when the value is undefined. */
function optional<K extends string, V extends AuditValue>(
  key: K,
  value: V | undefined,
): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]: V });
}
