/**
 * Markers of attacks hidden in data values: script syntax in a name, and
 * cross-site scripting or SQL injection aimed at the panels and databases
 * that later show or store what the router holds. They flag; the stage
 * decides whether a flag refuses.
 */

/** Why a command was flagged (the `flags` note and the stats). */
export const FlagReason = {
  ScriptSyntax: 'script-syntax',
  Xss: 'xss',
  SqlInjection: 'sql-injection',
} as const;
export type FlagReason = (typeof FlagReason)[keyof typeof FlagReason];

/**
 * Values that name things (users, profiles, interfaces, ids), where script
 * syntax has no business. Comments and passwords are not among them: they
 * legitimately hold `$`, `;`, quotes and brackets.
 */
export const IDENTIFIER_ATTRIBUTES: ReadonlySet<string> = new Set([
  '.id',
  'numbers',
  'name',
  'default-name',
  'user',
  'profile',
  'server',
  'interface',
  'bridge',
  'parent',
  'group',
  'owner',
  'list',
  'address-list',
  'address-pool',
  'pool',
  'queue',
  'service',
  'routing-table',
]);

const SCRIPT_SYNTAX = new RegExp(
  '[[\\]{};$]|:(?:execute|parse|global|local|put|log|set|do|if|while|for|foreach|delay|' +
    'resolve|return|error|pick|len|tostr|toarray|typeof|find|onerror|retry|import)\\b',
  'i',
);

/** True when an identifier-like value holds script syntax: `[`, `]`, `{`, `}`, `;`, `$`, `:execute`... */
export function hasScriptSyntax(value: string): boolean {
  return SCRIPT_SYNTAX.test(value);
}

// Every repetition is bounded: a value of 64 KiB of spaces or `<img ` must
// not make a pattern backtrack for seconds.
const XSS = new RegExp(
  [
    '<\\s{0,8}\\/?\\s{0,8}(?:script|iframe|object|embed|svg|math|base|link|meta|style)\\b',
    '<\\s{0,8}img\\b[^>]{0,256}?\\bon[a-z]{1,32}\\s{0,8}=',
    '\\bon(?:error|load|click|mouse[a-z]{1,8}|focus|blur|toggle|animationstart|pointer[a-z]{1,8}|key[a-z]{1,8}|begin)\\s{0,8}=',
    '(?:java|vb)script\\s{0,8}:',
    'data\\s{0,8}:\\s{0,8}text\\/html',
    'expression\\s{0,8}\\(',
  ].join('|'),
  'i',
);

/** True when a value carries markup that runs script in a browser. */
export function hasXss(value: string): boolean {
  return XSS.test(value);
}

const SQL_INJECTION = new RegExp(
  [
    // ' OR 1=1, " or 'a'='a
    `['"]\\s{0,8}(?:or|and)\\s{1,8}['"]?\\w{0,64}['"]?\\s{0,8}(?:=|like\\b)`,
    '\\bunion\\s{1,8}(?:all\\s{1,8})?select\\b',
    ';\\s{0,8}(?:drop|truncate|alter)\\s{1,8}(?:table|database)\\b',
    ';\\s{0,8}(?:delete\\s{1,8}from|insert\\s{1,8}into|update\\s{1,8}\\w{1,64}\\s{1,8}set)\\b',
    // a quote closing the string, then a comment: admin'--
    "'\\s{0,8}(?:--|#|\\/\\*)",
    '\\bwaitfor\\s{1,8}delay\\b',
    '\\b(?:sleep|benchmark|pg_sleep)\\s{0,8}\\(\\s{0,8}\\d',
    '\\bxp_cmdshell\\b',
    '\\binformation_schema\\b',
  ].join('|'),
  'i',
);

/** True when a value carries SQL meant to break out of a query. */
export function hasSqlInjection(value: string): boolean {
  return SQL_INJECTION.test(value);
}
