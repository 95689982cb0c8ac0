/**
 * Finds the commands a RouterOS script would run, so that a script cannot do
 * what its author may not (a scheduler whose on-event adds a `/user`).
 *
 * The scan over-approximates: it reads every statement, including those in
 * strings handed to another script (`on-event="..."`, `:execute "..."`),
 * and decodes escapes (`\2F` is `/`) before reading. It never runs or fully
 * parses the script. Command names are fixed when RouterOS parses a script,
 * so `$x` and `[...]` after a path are arguments; only `:execute` and
 * `:parse` run text computed at run time, and they count as commands.
 */

import { SCRIPT_ATTRIBUTES } from '../command/classify.js';

/** Attributes whose value RouterOS runs as a script (the session's classifier keeps the list). */
export { SCRIPT_ATTRIBUTES };

/** Scripting built-ins that run no menu command and no other script. */
const BUILTINS: ReadonlySet<string> = new Set([
  'beep',
  'convert',
  'delay',
  'deserialize',
  'do',
  'environment',
  'error',
  'find',
  'for',
  'foreach',
  'global',
  'if',
  'jobname',
  'len',
  'local',
  'log',
  'nothing',
  'onerror',
  'pick',
  'put',
  'resolve',
  'retry',
  'return',
  'rndnum',
  'rndstr',
  'serialize',
  'set',
  'terminal',
  'time',
  'timestamp',
  'toarray',
  'tobool',
  'toid',
  'toip',
  'toip6',
  'tonum',
  'tostr',
  'totime',
  'typeof',
  'while',
]);

const ESCAPE = /\\(?:([0-9a-f]{2})|\r?\n|(.))/gis;
/** Enough for a script inside a string inside a script inside a string. */
const MAX_UNESCAPE_PASSES = 8;

function unescapeOnce(text: string): string {
  return text.replace(ESCAPE, (_all, hex: string | undefined, char: string | undefined) => {
    if (hex !== undefined) return String.fromCharCode(Number.parseInt(hex, 16));
    if (char === undefined) return ''; // a line continuation
    if (char === 'n' || char === 'r') return '\n';
    if (char === 't' || char === '_') return ' ';
    return char;
  });
}

function unescape(text: string): string {
  for (let pass = 0; pass < MAX_UNESCAPE_PASSES; pass++) {
    const next = unescapeOnce(text);
    if (next === text) break;
    text = next;
  }
  return text;
}

const SCRIPT_NAMES = [...SCRIPT_ATTRIBUTES].join('|');
/**
 * Where a statement may start: after a separator, or at a value that is
 * itself a script (`on-event=...`). Group 1 is that attribute form.
 */
const STATEMENT_START = new RegExp(
  `[\\n\\r;{}[\\]()"]|(?<![a-z0-9-])((?:${SCRIPT_NAMES})=)(?!")`,
  'g',
);
/** Before a quote: the string is a script (`on-event="`, `:execute "`). */
const SCRIPT_STRING_BEFORE = new RegExp(
  `(?:(?<![a-z0-9-])(?:${SCRIPT_NAMES})=|:(?:execute|parse)\\s+(?:script=)?)$`,
);
const WORD = /[a-z0-9._-]+/y;
const BUILTIN = /:([a-z0-9-]+)/y;

/** What a scheduler runs when its on-event is a bare name: the script of that name. */
const RUN_SCRIPT = ['system', 'script', 'run'];
const SCRIPT_NAME = /^[^\s/:;[\]{}()$"]+(?=["\s;]|$)/;

/**
 * The commands `source` would run, each as its words (`['user', 'add']`),
 * lower-cased, abbreviations as written (`['sys', 'sch', 'add']`). Relative
 * commands (`add` after a `/user` line) get the last absolute path before
 * them. A scripting built-in other than plain control flow and variables
 * (`:execute`, `:parse`) is a command of its own name. When `attribute` is
 * `on-event` (or a nested `on-event=`) holds a bare name, the scheduler runs
 * the script of that name: `/system/script/run`.
 */
export function scanScript(source: string, attribute = ''): string[][] {
  const text = unescape(source).toLowerCase();
  const commands: string[][] = [];
  let context: string[] = [];
  const read = (at: number, isRelativeOk: boolean, isOnEvent: boolean): void => {
    while (text[at] === ' ' || text[at] === '\t') at++;
    if (isOnEvent && SCRIPT_NAME.test(text.slice(at, at + 256))) commands.push(RUN_SCRIPT);
    const first = text[at];
    if (first === '/') {
      const words = readWords(text, at, []);
      if (words !== undefined) {
        commands.push(words);
        context = words;
      }
    } else if (first === ':') {
      BUILTIN.lastIndex = at;
      const name = BUILTIN.exec(text)?.[1];
      if (name !== undefined && !BUILTINS.has(name)) commands.push([name]);
    } else if (isRelativeOk && first !== undefined && /[a-z.]/.test(first)) {
      const words = readWords(text, at, context);
      if (words !== undefined) commands.push(words);
    }
  };
  read(0, true, attribute === 'on-event');
  STATEMENT_START.lastIndex = 0;
  for (let match = STATEMENT_START.exec(text); match !== null; match = STATEMENT_START.exec(text)) {
    const at = match.index + match[0].length;
    const before = text.slice(Math.max(0, at - 40), at - 1);
    const isScriptValue =
      match[1] !== undefined || (match[0] === '"' && SCRIPT_STRING_BEFORE.test(before));
    const isOnEvent =
      match[1] === 'on-event=' || (match[0] === '"' && /(?<![a-z0-9-])on-event=$/.test(before));
    // Text in an ordinary string is data: read only what is unmistakably a command.
    read(at, match[0] !== '"' || isScriptValue, isOnEvent);
  }
  return commands;
}

/**
 * Path words from `at` (spaces or `/` between them) after `base`, until an
 * argument or anything else; undefined when there is no word at all.
 */
function readWords(text: string, at: number, base: readonly string[]): string[] | undefined {
  const words = [...base];
  let isRead = false;
  for (;;) {
    while (text[at] === ' ' || text[at] === '\t' || text[at] === '/') at++;
    WORD.lastIndex = at;
    const word = WORD.exec(text)?.[0];
    if (word === undefined) return isRead ? words : undefined;
    at += word.length;
    if (text[at] === '=') return isRead ? words : undefined; // `name=value`: arguments start
    isRead = true;
    if (word === '..') words.pop();
    else words.push(word);
  }
}
