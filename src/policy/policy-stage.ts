/**
 * The policy stage: decides each command before anything else sees it
 * (docs/architecture.md "The path of one command"). Access rules first, then input rules,
 * then attack detection. In `enforce` mode a denied command is refused with
 * a RouterOS trap and never reaches the router; in `monitor` mode it is
 * logged and counted, and forwarded.
 */
import type { Logger } from 'pino';
import type { PolicyConfig } from '../config/policy.js';
import { ErrorCode, RosgateError } from '../errors.js';
import type { CodePage, Sentence } from '../protocol/index.js';
import {
  SETTLED,
  toRosgateError,
  type CommandContext,
  type CommandHandler,
  type Stage,
  type StageHandle,
} from '../pipeline.js';
import { checkInput } from './input-rules.js';
import {
  createLoginGate,
  type GroupLockout,
  type Lockout,
  type LockoutEvent,
  type LockoutFilter,
  type LockoutGate,
} from './login-gate.js';
import {
  PolicyCounters,
  type PolicyStats,
  type RouterPolicyStats,
  type Verdict,
} from './policy-stats.js';
import { RuleSet, type Subject } from './rule-set.js';
import { SCRIPT_ATTRIBUTES, scanScript } from './script-scan.js';
import {
  FlagReason,
  IDENTIFIER_ATTRIBUTES,
  hasScriptSyntax,
  hasSqlInjection,
  hasXss,
} from './threat-markers.js';

/** The name under which script escalations are denied and counted. */
export const SCRIPT_ESCALATION = 'script-escalation';

export interface PolicyStageOptions {
  /** The `policy` configuration section. */
  readonly config: PolicyConfig;
  /** How a value that is not UTF-8 reads as text in conditions (`limits.clientCodePage`, at start). @default 'windows-1252' */
  readonly codePage?: CodePage;
  /** Where decisions other than a plain allow are logged; never with values. */
  readonly logger?: Logger;
  /** The clock of the login gates, in ms. @default monotonicNow (src/clock.ts: steps of the wall clock do not move it) */
  readonly now?: () => number;
  /** Called when a login gate locks an address or a user; must not throw. */
  readonly onLockout?: (event: LockoutEvent & { readonly router: string }) => void;
  /** The group's lockout of a router, when replicas share one (issue 18). */
  readonly sharedLockout?: (router: string) => GroupLockout | undefined;
  /**
   * Called for each command policy refuses as denied (enforce mode), before
   * the refusal goes out: the audit trail records it, since policy sits
   * outside the audit stage. A denial only noted (monitor mode) goes on
   * through the audit stage, which records it with its outcome. Must not throw.
   */
  readonly onDenied?: (context: CommandContext, error: RosgateError) => void;
  /** Called for a command policy refuses because deciding on it threw (a bug). Must not throw. */
  readonly onFailed?: (context: CommandContext, error: RosgateError) => void;
}

export interface PolicyStage extends StageHandle<PolicyStats> {
  /** Put it outermost in every router's chain; one instance serves them all. */
  readonly stage: Stage;
  /** Counters of every router. */
  stats(): PolicyStats;
  /** One router's counters (zeros before its first command): the admin port's `policy()` source. */
  routerStats(router: string): RouterPolicyStats;
  /**
   * Applies a new `policy` section to the commands that follow (rules,
   * roles, users, modes, input and detection settings) and to the login
   * gates, which keep their lockouts (but those of addresses now trusted).
   */
  updateRules(config: PolicyConfig): void;
  /**
   * The login gate for one router (one per router: asked again, the same),
   * with the configured lockout; its lockouts count in `stats()`.
   */
  loginGate(router: string): LockoutGate;
  /** The lockouts in force, of every router's gate. */
  lockouts(): (Lockout & { readonly router: string })[];
  /** Ends the lockouts that match (`router` narrows to one gate); returns them. */
  clearLockouts(
    filter: LockoutFilter & { readonly router?: string | undefined },
  ): (Lockout & { readonly router: string })[];
}

/** What the policy decided for one command. */
interface Decision {
  readonly rule: string;
  readonly verdict: Verdict;
  readonly flags: readonly FlagReason[];
  /** Set when denied; refused in `enforce` mode. */
  readonly refusal?: RosgateError;
}

const FLAG_REQUIREMENT: Readonly<Record<FlagReason, string>> = {
  [FlagReason.ScriptSyntax]: 'must not contain script syntax',
  [FlagReason.Xss]: 'must not contain HTML or script markup',
  [FlagReason.SqlInjection]: 'must not contain SQL injection',
};

/** Flags raised on a command's values, and the first that refuses it when enforced. */
interface Threats {
  readonly flags: FlagReason[];
  refusing?: { readonly reason: FlagReason; readonly attribute: string };
}

function raise(threats: Threats, reason: FlagReason, attribute: string, isEnforced: boolean): void {
  if (!threats.flags.includes(reason)) threats.flags.push(reason);
  if (isEnforced) threats.refusing ??= { reason, attribute };
}

/** What detection finds with every detector off; never written to. */
const NO_THREATS: Threats = Object.freeze({ flags: Object.freeze([]) as unknown as FlagReason[] });

/** Script syntax in names, XSS and SQL injection markers in any value but scripts. */
function detectThreats(attributes: ReadonlyMap<string, string>, config: PolicyConfig): Threats {
  const isScriptSyntaxChecked = config.attackDetection;
  if (!isScriptSyntaxChecked && !config.xss.enabled && !config.sqlInjection.enabled)
    return NO_THREATS;
  const threats: Threats = { flags: [] };
  for (const [name, value] of attributes) {
    if (SCRIPT_ATTRIBUTES.has(name)) continue;
    if (isScriptSyntaxChecked && IDENTIFIER_ATTRIBUTES.has(name) && hasScriptSyntax(value)) {
      raise(threats, FlagReason.ScriptSyntax, name, config.scriptSyntaxInData === 'enforce');
    }
    if (config.xss.enabled && hasXss(value)) {
      raise(threats, FlagReason.Xss, name, config.xss.mode === 'enforce');
    }
    if (config.sqlInjection.enabled && hasSqlInjection(value)) {
      raise(threats, FlagReason.SqlInjection, name, config.sqlInjection.mode === 'enforce');
    }
  }
  return threats;
}

const EQ_WORD = Buffer.from('=', 'latin1');
const NO_ATTRIBUTES: ReadonlyMap<string, string> = new Map();

/**
 * `=name=value` attributes as latin1 text (one character per byte), a later
 * duplicate winning as on the router: one conversion per attribute word, none
 * for queries; a command without attributes gets one shared empty map (issue 19).
 */
function attributeValues(sentence: Sentence): ReadonlyMap<string, string> {
  let values: Map<string, string> | undefined;
  for (let i = 1; i < sentence.wordCount; i++) {
    if (!sentence.wordStartsWith(i, EQ_WORD)) continue;
    const word = sentence.wordString(i);
    values ??= new Map<string, string>();
    const split = word.indexOf('=', 1);
    if (split < 0) values.set(word.slice(1), '');
    else values.set(word.slice(1, split), word.slice(split + 1));
  }
  return values ?? NO_ATTRIBUTES;
}

function denied(rule: string): RosgateError {
  return new RosgateError(ErrorCode.PolicyDenied, `not enough permissions (rosgate rule ${rule})`);
}

/** The rules and settings in force, and the counters decisions go to. */
interface Deciding {
  readonly rules: RuleSet;
  readonly config: PolicyConfig;
  readonly counters: PolicyCounters;
}

/** The first command in a script value that the subject's role may not run, as `/user/add`. */
function escalation(
  rules: RuleSet,
  subject: Subject,
  attributes: ReadonlyMap<string, string>,
): string | undefined {
  for (const [name, value] of attributes) {
    if (!SCRIPT_ATTRIBUTES.has(name)) continue;
    for (const words of scanScript(value, name)) {
      if (rules.mayDeny(subject, words) !== undefined) return `/${words.join('/')}`;
    }
  }
  return undefined;
}

/** Access rules, then input rules, then script escalation, then threat markers. */
function decide(context: CommandContext, { rules, config, counters }: Deciding): Decision {
  const { router, sentence } = context;
  const attributes = attributeValues(sentence);
  const subject: Subject = { user: context.user, role: rules.roleOf(context.user), router };
  const access = rules.decide(subject, sentence.command, context.command.verb, attributes);
  counters.hit(router, access.rule);
  if (access.action === 'deny') {
    return { rule: access.rule, verdict: 'deny', flags: [], refusal: denied(access.rule) };
  }
  if (config.input.enabled) {
    const failure = checkInput(context.command.menu, attributes, config.input);
    if (failure !== undefined) {
      counters.inputFailed(router, failure.rule);
      const refusal = new RosgateError(ErrorCode.InputInvalid, failure.message, {
        details: { attribute: failure.attribute, rule: failure.rule },
      });
      return { rule: `input:${failure.rule}`, verdict: 'deny', flags: [], refusal };
    }
  }
  if (config.attackDetection && context.command.carriesScript) {
    const command = escalation(rules, subject, attributes);
    if (command !== undefined) {
      const refusal = denied(`${SCRIPT_ESCALATION}: ${command}`);
      return { rule: SCRIPT_ESCALATION, verdict: 'deny', flags: [], refusal };
    }
  }
  const { flags, refusing } = detectThreats(attributes, config);
  for (const reason of flags) counters.flagged(router, reason);
  if (refusing !== undefined) {
    const { reason, attribute } = refusing;
    const refusal = new RosgateError(
      ErrorCode.InputInvalid,
      `invalid value for ${attribute}: ${FLAG_REQUIREMENT[reason]}`,
      { details: { attribute, rule: reason } },
    );
    return { rule: reason, verdict: 'deny', flags, refusal };
  }
  const verdict = access.action === 'audit' ? 'audit' : flags.length > 0 ? 'flag' : 'allow';
  return { rule: access.rule, verdict, flags };
}

/** Logs a decision other than a plain allow (never with values). */
function logDecision(
  logger: Logger | undefined,
  context: CommandContext,
  decision: Decision,
  isEnforced: boolean,
): void {
  if (logger === undefined || decision.verdict === 'allow') return;
  const record = {
    router: context.router,
    connId: context.clientId,
    user: context.user,
    cmd: context.sentence.command,
    rule: decision.rule,
    verdict: decision.verdict,
    ...(decision.flags.length > 0 ? { flags: decision.flags } : {}),
  };
  if (decision.verdict === 'audit') logger.info(record, 'policy audit');
  else if (decision.verdict === 'flag') logger.warn(record, 'policy flagged a command');
  else if (isEnforced) logger.warn(record, 'policy denied a command');
  else logger.warn(record, 'policy would deny a command (monitor mode)');
}

/** The policy stage, its counters and its login gates. */
export function createPolicyStage(options: PolicyStageOptions): PolicyStage {
  const { logger } = options;
  const counters = new PolicyCounters();
  let deciding: Deciding = {
    rules: new RuleSet(options.config, options.codePage),
    config: options.config,
    counters,
  };
  const gates = new Map<string, LockoutGate>();

  const stage: Stage = (next: CommandHandler): CommandHandler => ({
    handle(context, sink) {
      let decision: Decision;
      try {
        decision = decide(context, deciding);
      } catch (err) {
        logger?.error({ err, router: context.router, connId: context.clientId }, 'policy failed');
        const error = toRosgateError(err);
        options.onFailed?.(context, error);
        sink.refuse(error);
        return SETTLED;
      }
      const { notes } = context;
      notes.rule = decision.rule;
      notes.verdict = decision.verdict;
      if (decision.flags.length > 0) notes.flags = [...decision.flags];
      counters.decided(context.router, decision.rule, decision.verdict);
      const isEnforced = decision.refusal !== undefined && deciding.config.mode === 'enforce';
      logDecision(logger, context, decision, isEnforced);
      if (isEnforced) {
        options.onDenied?.(context, decision.refusal as RosgateError);
        sink.refuse(decision.refusal as RosgateError);
        return SETTLED;
      }
      return next.handle(context, sink);
    },
  });

  return {
    stage,
    stats: () => counters.snapshot(),
    // Policy answers or passes on at once and runs no timer: nothing to stop.
    close() {},
    routerStats: (router) => counters.routerSnapshot(router),
    updateRules(next) {
      deciding = { rules: new RuleSet(next, options.codePage), config: next, counters };
      for (const gate of gates.values()) gate.reconfigure(next.lockout);
    },
    loginGate(router) {
      let gate = gates.get(router);
      if (gate !== undefined) return gate;
      gate = createLoginGate({
        ...deciding.config.lockout,
        ...(options.now === undefined ? {} : { now: options.now }),
        shared: options.sharedLockout?.(router),
        onLockout(event) {
          counters.lockedOut(router);
          logger?.warn({ router, ...event }, 'login locked out');
          options.onLockout?.({ router, ...event });
        },
      });
      gates.set(router, gate);
      return gate;
    },
    lockouts: () =>
      [...gates].flatMap(([router, gate]) => gate.lockouts().map((l) => ({ router, ...l }))),
    clearLockouts({ router, ...filter }) {
      return [...gates]
        .filter(([name]) => router === undefined || name === router)
        .flatMap(([name, gate]) => gate.clear(filter).map((l) => ({ router: name, ...l })));
    },
  };
}
