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

const XSS = new RegExp(
  [
    '<\\s*\\/?\\s*(?:script|iframe|object|embed|svg|math|base|link|meta|style)\\b',
    '<\\s*img\\b[^>]*\\bon[a-z]+\\s*=',
    '\\bon(?:error|load|click|mouse[a-z]+|focus|blur|toggle|animationstart|pointer[a-z]+|key[a-z]+|begin)\\s*=',
    '(?:java|vb)script\\s*:',
    'data\\s*:\\s*text\\/html',
    'expression\\s*\\(',
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
    `['"]\\s*(?:or|and)\\s+['"]?\\w*['"]?\\s*(?:=|like)\\s*['"]?\\w*`,
    '\\bunion\\s+(?:all\\s+)?select\\b',
    ';\\s*(?:drop|truncate|alter)\\s+(?:table|database)\\b',
    ';\\s*(?:delete\\s+from|insert\\s+into|update\\s+\\w+\\s+set)\\b',
    // a quote closing the string, then a comment: admin'--
    "'\\s*(?:--|#|\\/\\*)",
    '\\bwaitfor\\s+delay\\b',
    '\\b(?:sleep|benchmark|pg_sleep)\\s*\\(\\s*\\d',
    '\\bxp_cmdshell\\b',
    '\\binformation_schema\\b',
  ].join('|'),
  'i',
);

/** True when a value carries SQL meant to break out of a query. */
export function hasSqlInjection(value: string): boolean {
  return SQL_INJECTION.test(value);
}
