/**
 * The command pipeline: the seam between a client session and a router
 * (docs/architecture.md "The pipeline"). One `CommandHandler` per router is built
 * in `app.ts` as a chain of stages, outermost first:
 *
 *   ClientSession -> policy -> audit -> cache -> flow -> upstream
 *
 * A stage is `(next) => handler`, undici's interceptor shape: it may answer
 * by itself (a cache hit, a denial), delay (a queue), or pass the command
 * on, wrapping the sink in a {@link SinkDecorator} to see its outcome. Each
 * stage factory returns a {@link StageHandle}: the stage, its stats, close.
 * What a command is (read, write, stream, ...) is decided once, by the
 * session, in `CommandContext.command`.
 *
 * The `next` a stage is given is never a stage: it is a link the pipeline
 * owns, which leads to whatever follows that stage in the chain in force
 * when it is called. A chain rebuilt after a live reload is therefore always
 * followed, even by a stage that kept its `next` for later (a cache fill, a
 * listen re-sent after a loss): no command can reach a retired stage.
 *
 * This file holds types and tiny helpers only; it imports nothing but the
 * protocol, errors and the command classifier, so every module may depend
 * on it.
 */
import type { CommandInfo } from './command/classify.js';
import { RosgateError, ErrorCode, isRosgateError } from './errors.js';
import { Sentence, TrapCategory, doneWords, trapWords } from './protocol/index.js';

export { describeCommand, splitCommand } from './command/classify.js';
export type { CommandDescription, CommandInfo, CommandKind } from './command/classify.js';

/** Everything a stage may know about one client command. */
export interface CommandContext {
  /** The router's configured name (the `router` metric label). */
  readonly router: string;
  /** The name the client logged in with. */
  readonly user: string;
  /** The client connection's id (`connId` in logs); unique per process. */
  readonly clientId: number;
  /** The client's source address (no port). */
  readonly address: string;
  /**
   * The command as the client sent it, its `.tag` included (the innermost
   * handler replaces that tag with its own on the way out).
   */
  readonly sentence: Sentence;
  /**
   * What the command is (read, write, stream, ...), decided once by the
   * session: stages read it rather than look at the verb themselves. Its
   * `menu` is the menu path (`/ip/hotspot/user` for `/ip/hotspot/user/print`;
   * `/` for `/quit`-like words) and its `verb` the last segment of the
   * command word (`print`, `add`, `listen`, ...): the only place a context
   * holds them. Build it with `describeCommand(sentence)`.
   */
  readonly command: CommandInfo;
  /** When the session received the command (ms since epoch, from the session's clock). */
  readonly receivedAt: number;
  /**
   * Notes stages leave for the stages around them and for the audit record
   * (`cache: 'hit'`, `rule: 'billing-deny-reboot'`, ...). Keys are fixed
   * camelCase names; values small.
   */
  readonly notes: CommandNotes;
}

/** What stages note about a command; every key optional. */
export interface CommandNotes {
  /** How the cache answered: `hit`, `stale` (served expired while the router is away), `coalesced`, `miss`, `bypass`. */
  cache?: 'hit' | 'stale' | 'coalesced' | 'miss' | 'bypass';
  /** The policy rule that decided, and what it decided. */
  rule?: string;
  verdict?: 'allow' | 'deny' | 'audit' | 'flag';
  /** Why a flag was raised (a fixed reason code, never the command text). */
  flags?: string[];
  /** Priority the flow stage gave the command. */
  priority?: 'high' | 'normal' | 'low';
  /** Milliseconds the command waited in the flow queue. */
  queuedMs?: number;
  /** `!re` rows the client got. */
  rows?: number;
  /** The upstream tag the command carried on the router, once sent. */
  upstreamTag?: string;
}

/**
 * Where a handler sends a command's outcome. Made by the session (only it
 * knows the client's tag): every sentence given here reaches the client with
 * the client's own tag, whatever tag it carries now.
 *
 * Exactly one of `done` and `refuse` ends a command; calls after that are
 * ignored by the session, but stages wrapping a sink must not rely on it:
 * a {@link SinkDecorator} drops them.
 */
export interface CommandSink {
  /** A `!re`, `!trap` or `!empty` reply sentence. */
  reply(sentence: Sentence): void;
  /** The `!done` that ends the command. */
  done(sentence: Sentence): void;
  /**
   * The proxy refuses or gives up on the command: the client gets
   * `!trap =message=<error.message>` and `!done` (docs/architecture.md invariant 6).
   * Transport failures arrive here too, with their upstream codes.
   */
  refuse(error: RosgateError): void;
}

/** A command on its way; returned by `handle()`. */
export interface Exchange {
  /**
   * Withdraw a command still waiting (its sink gets the router's
   * `interrupted` trap and `!done`), or cancel it on the router (its own
   * trap and `!done` arrive through the sink as the router sends them).
   * `onAnswered` runs once the cancel is acknowledged, so a session can keep
   * the router's order: trap(X), done(cancel), done(X) (docs/routeros-api.md §5).
   * Calling it twice sends at most one router cancel.
   */
  cancel(onAnswered: () => void): void;
}

/** Takes a command to the router, or answers it. */
export interface CommandHandler {
  handle(context: CommandContext, sink: CommandSink): Exchange;
}

/**
 * Wraps a handler: undici's interceptor shape. `next` is the pipeline's link
 * to the rest of the chain in force (see {@link createPipeline}), so a stage
 * may keep it.
 */
export type Stage = (next: CommandHandler) => CommandHandler;

/** A chain of stages that can be rebuilt in place; itself the chain's outermost handler. */
export interface Pipeline extends CommandHandler {
  /**
   * Builds the chain anew from `stages` (as many as before, in the same
   * roles): new commands take the new stages; the links the old stages were
   * given lead to the new ones too.
   */
  rebuild(stages: readonly Stage[]): void;
}

/**
 * Builds the chain: `createPipeline([a, b, c], inner)` runs `a`, then `b`,
 * then `c`, then `inner`, `a` outermost. Each stage is given a link, not the
 * handler after it: the link looks that handler up on every call, so the
 * rule "a stage never keeps the next handler it was given" holds by
 * construction, whatever a stage keeps.
 */
export function createPipeline(stages: readonly Stage[], inner: CommandHandler): Pipeline {
  const size = stages.length;
  // handlers[i] is the built handler at position i; handlers[size] is inner.
  let handlers: CommandHandler[] = [];
  const links: CommandHandler[] = [];
  for (let i = 0; i <= size; i++) {
    links.push({
      handle: (context, sink) => (handlers[i] as CommandHandler).handle(context, sink),
    });
  }
  const build = (from: readonly Stage[]): void => {
    if (from.length !== size) {
      throw new RosgateError(
        ErrorCode.Internal,
        `a pipeline of ${size} stages was rebuilt with ${from.length}`,
      );
    }
    const built: CommandHandler[] = [];
    built[size] = inner;
    for (let i = size - 1; i >= 0; i--) {
      const link = links[i + 1] as CommandHandler;
      const handler = (from[i] as Stage)(link);
      // A stage that is off hands back its link: calls go straight to what
      // the link leads to in this chain (issue 19), one hop less per command.
      built[i] = handler === link ? (built[i + 1] as CommandHandler) : handler;
    }
    handlers = built;
  };
  build(stages);
  return {
    handle: (context, sink) => (handlers[0] as CommandHandler).handle(context, sink),
    rebuild: build,
  };
}

/** A chain that is never rebuilt: `compose([a, b, c], inner)` is `a(b(c(inner)))`, `a` outermost. */
export function compose(stages: readonly Stage[], inner: CommandHandler): CommandHandler {
  return createPipeline(stages, inner);
}

/**
 * What every stage factory returns: the stage to compose, its counters, and
 * how to stop what it runs on its own (timers, listens, files).
 */
export interface StageHandle<Stats = unknown> {
  /** The stage to put in each router's chain. */
  readonly stage: Stage;
  /** Counters for the admin port and the metrics. */
  stats(): Stats;
  /** Stops the stage's own work; commands still on their way end as the stage says. */
  close(): void | Promise<void>;
}

/** How a command ended, as a {@link SinkDecorator} saw it. */
export type CommandOutcome =
  | { readonly type: 'done'; readonly sentence: Sentence }
  | { readonly type: 'refused'; readonly error: RosgateError };

/** What a stage wants to see of a command's answer; every hook optional. */
export interface SinkHooks {
  /** Each reply before the end (`!re`, `!trap`, `!empty`), before it is passed on. */
  readonly onReply?: (sentence: Sentence) => void;
  /** The end, exactly once, before it is passed on. */
  readonly onEnd?: (outcome: CommandOutcome) => void;
  /** A call after the end, dropped: for a count or a debug log. */
  readonly onDropped?: (call: 'reply' | 'done' | 'refuse') => void;
}

/** The hooks of a decorator given none (one object for all: a flow command makes one per command). */
const NO_HOOKS: SinkHooks = Object.freeze({});

/**
 * A sink that passes a command's answer on to the sink it wraps and lets a
 * stage see it (undici's DecoratorHandler). It keeps the rule "nothing after
 * `done` or `refuse`": a later call is dropped (and reported to `onDropped`),
 * and `onEnd` runs exactly once, before the end is passed on (so a cache
 * invalidates before the client sees a write's `!done`). Should a hook
 * throw, the sentence is still passed on, then the throw goes to the caller.
 *
 * Use it with hooks (`new SinkDecorator(sink, { onEnd })`) or extend it and
 * override {@link onReply} and {@link onEnd}.
 */
export class SinkDecorator implements CommandSink {
  /** Calls dropped because they came after the end. */
  dropped = 0;
  readonly #sink: CommandSink;
  readonly #hooks: SinkHooks;
  #isEnded = false;

  constructor(sink: CommandSink, hooks: SinkHooks = NO_HOOKS) {
    this.#sink = sink;
    this.#hooks = hooks;
  }

  /** True once `done` or `refuse` went through. */
  get isEnded(): boolean {
    return this.#isEnded;
  }

  reply(sentence: Sentence): void {
    if (this.#drops('reply')) return;
    try {
      this.onReply(sentence);
    } finally {
      this.#sink.reply(sentence);
    }
  }

  done(sentence: Sentence): void {
    if (!this.#drops('done')) this.#end({ type: 'done', sentence });
  }

  refuse(error: RosgateError): void {
    if (!this.#drops('refuse')) this.#end({ type: 'refused', error });
  }

  /** Sees a reply before it is passed on. */
  protected onReply(sentence: Sentence): void {
    this.#hooks.onReply?.(sentence);
  }

  /** Sees the end, once, before it is passed on. */
  protected onEnd(outcome: CommandOutcome): void {
    this.#hooks.onEnd?.(outcome);
  }

  /** Ends once: the stage sees `outcome`, then it is passed on (no closure per command). */
  #end(outcome: CommandOutcome): void {
    this.#isEnded = true;
    try {
      this.onEnd(outcome);
    } finally {
      if (outcome.type === 'done') this.#sink.done(outcome.sentence);
      else this.#sink.refuse(outcome.error);
    }
  }

  #drops(call: 'reply' | 'done' | 'refuse'): boolean {
    if (!this.#isEnded) return false;
    this.dropped++;
    this.#hooks.onDropped?.(call);
    return true;
  }
}

/** An exchange with nothing to cancel: answers at once. */
export const SETTLED: Exchange = Object.freeze({
  cancel(onAnswered: () => void) {
    onAnswered();
  },
});

const INTERRUPTED_TRAP = Sentence.from(
  trapWords(undefined, 'interrupted', TrapCategory.Interrupted),
);
const DONE = Sentence.from(doneWords(undefined));

/**
 * End a command that never reached the router as the router ends a
 * cancelled one: `!trap =category=2 =message=interrupted`, then `!done`
 * (docs/routeros-api.md §5).
 */
export function answerInterrupted(sink: CommandSink): void {
  sink.reply(INTERRUPTED_TRAP);
  sink.done(DONE);
}

/**
 * A RosgateError for whatever a stage threw, so a throw from a handler
 * becomes a refusal of that one command (undici `errorRequest`). Internal
 * text never reaches the client: an unknown throw is reported generically.
 */
export function toRosgateError(err: unknown): RosgateError {
  if (isRosgateError(err)) return err;
  return new RosgateError(ErrorCode.Internal, 'internal error in rosgate', { cause: err });
}

/** Events of a client session that are not commands: for audit, policy and metrics. */
export interface SessionObserver {
  /** A login was accepted. `method` is `plain` or `challenge`. */
  loginSucceeded(event: LoginEvent): void;
  /** A login was refused (`code`: why, as a RosgateError code or `ROSGATE_LOGIN_INVALID`). */
  loginFailed(event: LoginEvent & { readonly code: string; readonly reason: string }): void;
  /** A logged-in client left. */
  loggedOut(event: LoginEvent & { readonly durationMs: number; readonly commands: number }): void;
}

/** Who logged in, from where, how. */
export interface LoginEvent {
  readonly router: string;
  readonly user: string;
  readonly clientId: number;
  readonly address: string;
  readonly method: 'plain' | 'challenge';
}

/** Decides whether a login may even be checked (brute-force lockout, policy issue). */
export interface LoginGate {
  /** A refusal when `address` or `user` is locked out; undefined to go ahead. */
  admit(address: string, user: string): RosgateError | undefined;
  /** The outcome of a checked login. */
  record(address: string, user: string, isOk: boolean): void;
  /** An admitted login that could not be checked (router unreachable): it counts for nothing. */
  release?(address: string, user: string): void;
  /**
   * After `admit`, before the login is checked: a refusal when the group
   * (other replicas, issue 18) holds a lock on it; undefined to go ahead.
   */
  check?(address: string, user: string): Promise<RosgateError | undefined>;
}
