/**
 * Ordered rules, first match wins (ProxySQL's query rules): the global
 * rules, then those of the user's role. A command no rule matches is denied
 * by {@link DEFAULT_DENY}.
 */
import type { PolicyConditionConfig, PolicyConfig, PolicyRuleConfig } from '../config/policy.js';
import { SECTIONS } from '../config/schema.js';
import { DEFAULT_CODE_PAGE, readClientText, type CodePage } from '../protocol/index.js';
import { CommandGlob } from './command-glob.js';

/** What a rule does with the commands it matches; `audit` allows and flags. */
export type RuleAction = 'allow' | 'deny' | 'audit';

/** The rule that decided, and how. */
export interface RuleDecision {
  readonly rule: string;
  readonly action: RuleAction;
}

/** Who runs a command, where. */
export interface Subject {
  readonly user: string;
  readonly role: string;
  readonly router: string;
}

/** The name under which a command that no rule matches is denied. */
export const DEFAULT_DENY = 'default-deny';

const NO_ATTRIBUTES: ReadonlyMap<string, string> = new Map();

const DENIED: RuleDecision = Object.freeze({ rule: DEFAULT_DENY, action: 'deny' });

/** Values are latin1 text: one character per byte, as the router stores them. */
type ValueTest = (value: string | undefined) => boolean;

const BEYOND_ASCII = /[\x80-\xff]/;

/**
 * A value as text, read as a client's name is (UTF-8, else the clients'
 * code page), so configured text matches both spellings: `café` from
 * node-routeros and from a UTF-8 client, `Кафе` in UTF-8 (or in
 * windows-1251 when that is `limits.clientCodePage`). ASCII reads as itself.
 */
function asText(value: string, codePage: CodePage): string {
  return BEYOND_ASCII.test(value) ? readClientText(Buffer.from(value, 'latin1'), codePage) : value;
}

function conditionTest(condition: PolicyConditionConfig, codePage: CodePage): ValueTest {
  const { equals, matches, present } = condition;
  if (equals !== undefined) {
    return (value) => value !== undefined && asText(value, codePage) === equals;
  }
  if (matches !== undefined) {
    const pattern = new RegExp(matches);
    return (value) => value !== undefined && pattern.test(asText(value, codePage));
  }
  return (value) => (value !== undefined) === present;
}

function nameSet(names: string | readonly string[] | undefined): ReadonlySet<string> | undefined {
  if (names === undefined) return undefined;
  return new Set(typeof names === 'string' ? [names] : names);
}

class Rule {
  readonly name: string;
  readonly action: RuleAction;
  readonly decision: RuleDecision;
  readonly #globs: readonly CommandGlob[];
  readonly #verbs: ReadonlySet<string> | undefined;
  readonly #users: ReadonlySet<string> | undefined;
  readonly #roles: ReadonlySet<string> | undefined;
  readonly #routers: ReadonlySet<string> | undefined;
  readonly #conditions: readonly { name: string; test: ValueTest }[];

  constructor(config: PolicyRuleConfig, codePage: CodePage) {
    this.name = config.name;
    this.action = config.action;
    this.decision = Object.freeze({ rule: config.name, action: config.action });
    const paths = typeof config.path === 'string' ? [config.path] : config.path;
    this.#globs = paths.map((path) => new CommandGlob(path));
    this.#verbs = nameSet(config.verb);
    this.#users = nameSet(config.user);
    this.#roles = nameSet(config.role);
    this.#routers = nameSet(config.router);
    this.#conditions = config.attributes.map((c) => ({
      name: c.name,
      test: conditionTest(c, codePage),
    }));
  }

  /** False when the rule names roles and `role` is not one of them. */
  isForRole(role: string): boolean {
    return this.#roles === undefined || this.#roles.has(role);
  }

  appliesTo(subject: Subject): boolean {
    return (
      (this.#users === undefined || this.#users.has(subject.user)) &&
      (this.#routers === undefined || this.#routers.has(subject.router)) &&
      this.isForRole(subject.role)
    );
  }

  /** True when the command (`/ip/hotspot/user/add`, verb `add`) matches. */
  matches(command: string, verb: string, attributes: ReadonlyMap<string, string>): boolean {
    return this.matchesCommand(command, verb) && this.conditionsHold(attributes);
  }

  /** True when the rule names users or routers: whether it applies depends on more than the role. */
  get isForSome(): boolean {
    return this.#users !== undefined || this.#routers !== undefined;
  }

  /** True when the rule has attribute conditions. */
  get hasConditions(): boolean {
    return this.#conditions.length > 0;
  }

  /** The command and verb part of {@link matches}, attributes aside. */
  matchesCommand(command: string, verb: string): boolean {
    if (this.#verbs !== undefined && !this.#verbs.has(verb)) return false;
    // Loops, not some/every with closures: this runs for every rule of every command.
    for (const glob of this.#globs) if (glob.matches(command)) return true;
    return false;
  }

  /** The attribute part of {@link matches}. */
  conditionsHold(attributes: ReadonlyMap<string, string>): boolean {
    for (const c of this.#conditions) if (!c.test(attributes.get(c.name))) return false;
    return true;
  }

  /**
   * True when script words may run a command this rule matches: the command
   * may be any leading part of the words (the rest being unnamed arguments,
   * as in `/system script run backup`), and attribute conditions may hold.
   */
  mayMatch(words: readonly string[]): boolean {
    for (let end = 1; end <= words.length; end++) {
      const command = words.slice(0, end);
      if (
        this.#mayHaveVerb(command[end - 1] as string) &&
        this.#globs.some((g) => g.mayMatch(command))
      ) {
        return true;
      }
    }
    return false;
  }

  /** True when every command the script words may run is matched, whatever its attributes. */
  covers(words: readonly string[]): boolean {
    const verb = words[words.length - 1] as string;
    return (
      this.#conditions.length === 0 && this.matches(`/${words.join('/')}`, verb, NO_ATTRIBUTES)
    );
  }

  #mayHaveVerb(word: string): boolean {
    if (this.#verbs === undefined) return true;
    for (const verb of this.#verbs) if (verb.startsWith(word)) return true;
    return false;
  }
}

/** Decisions remembered per role, by command word; emptied when full. */
const MAX_REMEMBERED = 1024;

/**
 * The decisions of one role's rules, when they depend on the command word
 * alone (no rule of the role names users or routers): a command word whose
 * matching ran into no attribute condition is decided once (issue 19).
 */
class Remembered {
  readonly #decisions = new Map<string, RuleDecision>();

  get(command: string): RuleDecision | undefined {
    return this.#decisions.get(command);
  }

  set(command: string, decision: RuleDecision): void {
    // Command words come from clients: the memory they may take is bounded.
    if (this.#decisions.size >= MAX_REMEMBERED) this.#decisions.clear();
    this.#decisions.set(command, decision);
  }
}

/** Compiled rules for every role; rebuilt whole when the configuration changes. */
export class RuleSet {
  readonly #byRole = new Map<string, readonly Rule[]>();
  /** Per role whose rules all apply to every user and router. */
  readonly #remembered = new Map<string, Remembered>();
  readonly #users: Readonly<Record<string, string>>;
  readonly #defaultRole: string;

  /** `codePage`: how a value that is not UTF-8 reads as text (`limits.clientCodePage`). */
  constructor(
    config: Pick<PolicyConfig, 'rules' | 'roles' | 'users' | 'defaultRole'>,
    codePage: CodePage = DEFAULT_CODE_PAGE,
  ) {
    this.#users = config.users;
    this.#defaultRole = config.defaultRole;
    const global = config.rules.map((rule) => new Rule(rule, codePage));
    // The section's default roles are the shipped ones; configured roles replace them by name.
    const roles = { ...SECTIONS.policy.defaults.roles, ...config.roles };
    for (const [role, rules] of Object.entries(roles)) {
      this.#byRole.set(role, [
        ...global.filter((rule) => rule.isForRole(role)),
        ...rules.map((rule) => new Rule(rule, codePage)),
      ]);
    }
    for (const [role, rules] of this.#byRole)
      if (!rules.some((rule) => rule.isForSome)) this.#remembered.set(role, new Remembered());
  }

  /** The role of `user`: from `users`, else the default role. */
  roleOf(user: string): string {
    return Object.hasOwn(this.#users, user) ? (this.#users[user] as string) : this.#defaultRole;
  }

  /** The first rule matching the command (`/ip/hotspot/user/add`, verb `add`), or {@link DEFAULT_DENY}. */
  decide(
    subject: Subject,
    command: string,
    verb: string,
    attributes: ReadonlyMap<string, string>,
  ): RuleDecision {
    // The verb is the command word's last segment: the word alone is the key.
    const remembered = this.#remembered.get(subject.role);
    const known = remembered?.get(command);
    if (known !== undefined) return known;
    let isByCommand = remembered !== undefined;
    for (const rule of this.#rules(subject.role)) {
      if (!rule.appliesTo(subject) || !rule.matchesCommand(command, verb)) continue;
      if (rule.hasConditions) {
        // What follows depends on this command's attributes.
        isByCommand = false;
        if (!rule.conditionsHold(attributes)) continue;
      }
      if (isByCommand) (remembered as Remembered).set(command, rule.decision);
      return rule.decision;
    }
    if (isByCommand) (remembered as Remembered).set(command, DENIED);
    return DENIED;
  }

  /**
   * The rule that may deny a command a script would run (`words` as read by
   * `scanScript`), or undefined when a rule allows every reading of it
   * first. Doubt denies: an abbreviation that may name a denied command
   * counts as one.
   */
  mayDeny(subject: Subject, words: readonly string[]): string | undefined {
    for (const rule of this.#rules(subject.role)) {
      if (!rule.appliesTo(subject)) continue;
      if (rule.action === 'deny') {
        if (rule.mayMatch(words)) return rule.name;
      } else if (rule.covers(words)) {
        return undefined;
      }
    }
    return DEFAULT_DENY;
  }

  #rules(role: string): readonly Rule[] {
    return this.#byRole.get(role) ?? [];
  }
}
