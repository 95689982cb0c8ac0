/**
 * The command pipeline: the seam between a client session and a router
 * (DESIGN "The command pipeline"). One `CommandHandler` per router is built
 * in `app.ts` as a chain of stages, outermost first:
 *
 *   ClientSession -> policy -> audit -> cache -> flow -> upstream
 *
 * A stage is `(next) => handler`, undici's interceptor shape: it may answer
 * by itself (a cache hit, a denial), delay (a queue), or pass the command
 * on, wrapping the sink to see its outcome.
 *
 * The `next` a stage is given is never a stage: it is a link the pipeline
 * owns, which leads to whatever follows that stage in the chain in force
 * when it is called. A chain rebuilt after a live reload is therefore always
 * followed, even by a stage that kept its `next` for later (a cache fill, a
 * listen re-sent after a loss): no command can reach a retired stage.
 *
 * This file holds types and tiny helpers only; it imports nothing but the
 * protocol and errors, so every module may depend on it.
 */
import { RosgateError, ErrorCode, isRosgateError } from './errors.js';
import { Sentence, TrapCategory, doneWords, trapWords } from './protocol/index.js';

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
  /** The menu path: `/ip/hotspot/user` for `/ip/hotspot/user/print`; `/` for `/quit`-like words. */
  readonly path: string;
  /** The last segment of the command word: `print`, `add`, `listen`, ... */
  readonly verb: string;
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
 * ignored by the session, but stages wrapping a sink must not rely on it.
 */
export interface CommandSink {
  /** A `!re`, `!trap` or `!empty` reply sentence. */
  reply(sentence: Sentence): void;
  /** The `!done` that ends the command. */
  done(sentence: Sentence): void;
  /**
   * The proxy refuses or gives up on the command: the client gets
   * `!trap =message=<error.message>` and `!done` (DESIGN invariant 6).
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
   * the router's order: trap(X), done(cancel), done(X) (ROUTEROS-API §5).
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
    for (let i = size - 1; i >= 0; i--)
      built[i] = (from[i] as Stage)(links[i + 1] as CommandHandler);
    handlers = built;
  };
  build(stages);
  const outer = links[0] as CommandHandler;
  return { handle: (context, sink) => outer.handle(context, sink), rebuild: build };
}

/** A chain that is never rebuilt: `compose([a, b, c], inner)` is `a(b(c(inner)))`, `a` outermost. */
export function compose(stages: readonly Stage[], inner: CommandHandler): CommandHandler {
  return createPipeline(stages, inner);
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
 * (ROUTEROS-API §5).
 */
export function answerInterrupted(sink: CommandSink): void {
  sink.reply(INTERRUPTED_TRAP);
  sink.done(DONE);
}

/** Splits a command word into its menu path and verb: `/ip/address/print` -> `/ip/address`, `print`. */
export function splitCommand(command: string): { path: string; verb: string } {
  const at = command.lastIndexOf('/');
  if (at <= 0) return { path: '/', verb: command.slice(at + 1) };
  return { path: command.slice(0, at), verb: command.slice(at + 1) };
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
