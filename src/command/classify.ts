/**
 * What a client command is, decided once, where the client session turns a
 * sentence into a command (`CommandContext.command`); every stage reads it
 * instead of keeping its own verb lists. It may import only src/protocol.
 */
import type { Sentence } from '../protocol/index.js';

/**
 * The kind of a command:
 *
 * - `read`: changes nothing and ends by itself: `print`, `getall`, `get`,
 *   `export`, and a monitor-like command bounded by `once`, `count` or
 *   `duration` (`/interface/monitor-traffic =once=`, `/ping =count=3`);
 * - `stream`: runs until cancelled (docs/routeros-api.md §5): `listen`, a
 *   monitor-like command with no bound (`monitor`, `monitor-traffic`,
 *   `ping`, `torch`, `bandwidth-test`, `traceroute`, `sniff`), a `print` or
 *   `getall` with `follow`, `follow-only` or `interval`;
 * - `write`: changes the rows of its menu: `add`, `set`, `remove`, ...;
 * - `action`: any other verb (`/system/reboot`, `/ip/dhcp-client/renew`,
 *   `/tool/fetch`): it may change the router, in ways no rule predicts;
 * - `script`: runs a script or loads configuration now, so any menu may
 *   change (`/system/script/run`, `/execute`, `/import`, ...);
 * - `login`, `cancel`, `quit`, `keepalive` (`#`): API words the client
 *   session answers itself; they never reach a stage.
 */
export type CommandKind =
  'read' | 'stream' | 'write' | 'action' | 'script' | 'login' | 'cancel' | 'quit' | 'keepalive';

/** What every stage may know of a command without looking at its words again. */
export interface CommandInfo {
  /** The menu path: `/ip/hotspot/user` for `/ip/hotspot/user/print`; `/` for top-level commands. */
  readonly menu: string;
  /** The last segment of the command word: `print`, `add`, `listen`, ... */
  readonly verb: string;
  readonly kind: CommandKind;
  /** `kind === 'stream'`: exempt from the idle timeout; no slot unless configured. */
  readonly isStream: boolean;
  /** A `print` or `getall` that ends by itself: its finished reply may be kept. */
  readonly isCacheable: boolean;
  /** A `write`, `action` or `script`: kept replies may be wrong after it. */
  readonly mayChange: boolean;
  /** It carries a value RouterOS runs as a script ({@link SCRIPT_ATTRIBUTES}): policy scans it. */
  readonly carriesScript: boolean;
  /**
   * What a write does to the rows it names: `add` makes one, `remove`
   * deletes them, `change` changes them and no other row (`set`, `enable`,
   * `disable`, `reset-counters`, `comment`); undefined when it may change
   * any row of its menu (`unset`, `move`, ...) or is no write.
   */
  readonly rowEffect: RowEffect | undefined;
}

/** See {@link CommandInfo.rowEffect}. */
export type RowEffect = 'add' | 'remove' | 'change';

/** Attributes whose value RouterOS runs as a script. */
export const SCRIPT_ATTRIBUTES: ReadonlySet<string> = new Set([
  'on-login',
  'on-logout',
  'on-event',
  'on-up',
  'on-down',
  'on-error',
  'source',
  'script',
  'lease-script',
  'up-script',
  'down-script',
  'test-script',
]);

/** API words the session answers itself (docs/routeros-api.md §3, §5, §9). */
const SESSION_WORDS: ReadonlyMap<string, CommandKind> = new Map<string, CommandKind>([
  ['/login', 'login'],
  ['/cancel', 'cancel'],
  ['/quit', 'quit'],
  ['#', 'keepalive'],
]);

/** Commands that run a script or load configuration: they may change any menu. */
const SCRIPT_COMMANDS: ReadonlySet<string> = new Set([
  '/execute',
  '/import',
  '/system/script/run',
  '/system/backup/load',
  '/system/reset-configuration',
]);

/** Verbs whose reply is the menu's rows. */
const PRINT_VERBS: ReadonlySet<string> = new Set(['print', 'getall']);
/** Other verbs that only read. */
const READ_VERBS: ReadonlySet<string> = new Set(['get', 'export']);
/** Verbs that change the rows of their menu. */
const WRITE_VERBS: ReadonlySet<string> = new Set([
  'add',
  'set',
  'remove',
  'enable',
  'disable',
  'unset',
  'move',
  'edit',
  'comment',
  'reset',
  'reset-counters',
  'reset-counters-all',
]);
/** Write verbs whose effect on rows is known. */
const ROW_EFFECTS: ReadonlyMap<string, RowEffect> = new Map<string, RowEffect>([
  ['add', 'add'],
  ['remove', 'remove'],
  ['set', 'change'],
  ['enable', 'change'],
  ['disable', 'change'],
  ['reset-counters', 'change'],
  ['comment', 'change'],
]);
/** Verbs that report until cancelled unless bounded (docs/routeros-api.md §5). */
const MONITOR_VERBS: ReadonlySet<string> = new Set([
  'monitor',
  'monitor-traffic',
  'ping',
  'torch',
  'bandwidth-test',
  'traceroute',
  'sniff',
]);
/** Arguments that make a print report changes until cancelled (§5). */
const FOLLOW_ATTRIBUTES = attributeKeys(['follow', 'follow-only', 'interval']);
/** Arguments that make a monitor-like command end by itself. */
const BOUND_ATTRIBUTES = attributeKeys(['once', 'count', 'duration']);
const SCRIPT_KEYS = attributeKeys([...SCRIPT_ATTRIBUTES]);

const EQ = 0x3d; // '='

/** `=name` prefixes, made once: {@link hasAnyAttribute} compares bytes with them. */
export function attributeKeys(names: readonly string[]): readonly Buffer[] {
  return names.map((name) => Buffer.from(`=${name}`, 'latin1'));
}

/**
 * True when `sentence` carries one of the attributes (`=name=value`, or a
 * bare `=name`) whose prefixes `keys` holds. Compares bytes in place.
 */
export function hasAnyAttribute(sentence: Sentence, keys: readonly Buffer[]): boolean {
  for (let i = 1; i < sentence.wordCount; i++) {
    for (const key of keys) {
      if (!sentence.wordStartsWith(i, key)) continue;
      if (sentence.wordLength(i) === key.length || sentence.word(i)[key.length] === EQ) return true;
    }
  }
  return false;
}

/** Splits a command word into its menu path and verb: `/ip/address/print` -> `/ip/address`, `print`. */
export function splitCommand(command: string): { path: string; verb: string } {
  const at = command.lastIndexOf('/');
  if (at <= 0) return { path: '/', verb: command.slice(at + 1) };
  return { path: command.slice(0, at), verb: command.slice(at + 1) };
}

function kindOf(command: string, verb: string, sentence: Sentence): CommandKind {
  const sessionKind = SESSION_WORDS.get(command);
  if (sessionKind !== undefined) return sessionKind;
  if (SCRIPT_COMMANDS.has(command)) return 'script';
  if (PRINT_VERBS.has(verb))
    return hasAnyAttribute(sentence, FOLLOW_ATTRIBUTES) ? 'stream' : 'read';
  if (READ_VERBS.has(verb)) return 'read';
  if (verb === 'listen') return 'stream';
  if (MONITOR_VERBS.has(verb))
    return hasAnyAttribute(sentence, BOUND_ATTRIBUTES) ? 'read' : 'stream';
  return WRITE_VERBS.has(verb) ? 'write' : 'action';
}

/** Classifies one command. */
export function classifyCommand(sentence: Sentence): CommandInfo {
  const command = sentence.command;
  const { path: menu, verb } = splitCommand(command);
  const kind = kindOf(command, verb, sentence);
  return {
    menu,
    verb,
    kind,
    isStream: kind === 'stream',
    isCacheable: kind === 'read' && PRINT_VERBS.has(verb),
    mayChange: kind === 'write' || kind === 'action' || kind === 'script',
    carriesScript: hasAnyAttribute(sentence, SCRIPT_KEYS),
    rowEffect: kind === 'write' ? ROW_EFFECTS.get(verb) : undefined,
  };
}

/** The fields of a `CommandContext` that describe the command. */
export interface CommandDescription {
  readonly sentence: Sentence;
  readonly command: CommandInfo;
}

/**
 * The fields of a `CommandContext` that describe the command: the sentence
 * and its classification (menu and verb included), from one look at it.
 */
export function describeCommand(sentence: Sentence): CommandDescription {
  return { sentence, command: classifyCommand(sentence) };
}
