import { parseArgs } from 'node:util';
import { ErrorCode, RosgateError } from '../errors.js';
import { startSimulator, type Simulator, type SimulatorOptions } from './index.js';
import { REFUSE_LISTEN_MODES } from './options.js';

const USAGE =
  'rosgate simulate [--host 127.0.0.1] [--port 8728] [--user admin] [--password ""] [--version 7.19] ' +
  '[--seed N] [--hotspot-users N] [--ppp-secrets N] [--max-sessions N] [--control-port N] [--latency-ms N] ' +
  '[--row-latency-ms N] [--latency-per-100-rows-ms N] [--stream-interval-ms N] [--one-command-at-a-time] ' +
  '[--tag-position first|last] [--refuse-listen off|proplist|always] [--interfaces N] ' +
  '[--max-commands-per-session N] [--max-backlog-bytes N] [--pre-login-max-sentences N] [--user-add name:password]... ' +
  '[--too-many-sessions fatal|close] [--cancel-unknown-tag done|trap] [--failed-login-closes] ' +
  '[--empty-replies on|off] [--not-logged-in-message TEXT] [--no-such-item-message TEXT]';

const INTEGER_FLAGS = {
  port: 'port',
  seed: 'seed',
  'hotspot-users': 'hotspotUsers',
  'ppp-secrets': 'pppSecrets',
  'max-sessions': 'maxSessions',
  'control-port': 'controlPort',
  'latency-ms': 'latencyMs',
  'row-latency-ms': 'rowLatencyMs',
  'latency-per-100-rows-ms': 'latencyPer100RowsMs',
  'stream-interval-ms': 'streamIntervalMs',
  interfaces: 'interfaces',
  'max-commands-per-session': 'maxCommandsPerSession',
  'max-backlog-bytes': 'maxBacklogBytes',
  'pre-login-max-sentences': 'preLoginMaxSentences',
} as const satisfies Record<string, keyof SimulatorOptions>;

/** Flags whose value is one of a few words (the behaviours ROUTEROS-API.md leaves unconfirmed). */
const CHOICE_FLAGS = {
  'tag-position': { option: 'tagPosition', words: { first: 'first', last: 'last' } },
  'refuse-listen': {
    option: 'refuseListen',
    words: Object.fromEntries(REFUSE_LISTEN_MODES.map((mode) => [mode, mode])),
  },
  'too-many-sessions': { option: 'tooManySessions', words: { fatal: 'fatal', close: 'close' } },
  'cancel-unknown-tag': { option: 'cancelUnknownTagReply', words: { done: 'done', trap: 'trap' } },
  'empty-replies': { option: 'emptyReplies', words: { on: true, off: false } },
} as const satisfies Record<
  string,
  { option: keyof SimulatorOptions; words: Record<string, string | boolean> }
>;

/** Flags whose value is any text. */
const TEXT_FLAGS = {
  host: 'host',
  user: 'user',
  password: 'password',
  version: 'version',
  'not-logged-in-message': 'notLoggedInMessage',
  'no-such-item-message': 'noSuchItemMessage',
} as const satisfies Record<string, keyof SimulatorOptions>;

function fail(message: string): never {
  throw new RosgateError(ErrorCode.Config, `${message}\nusage: ${USAGE}`, {
    details: { usage: USAGE },
  });
}

/** Parse `rosgate simulate` flags into options; errors name the flag. */
export function parseSimulateArgs(argv: string[]): SimulatorOptions {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'one-command-at-a-time': { type: 'boolean' },
        'failed-login-closes': { type: 'boolean' },
        'user-add': { type: 'string', multiple: true },
        ...Object.fromEntries(
          [INTEGER_FLAGS, CHOICE_FLAGS, TEXT_FLAGS]
            .flatMap((flags) => Object.keys(flags))
            .map((flag) => [flag, { type: 'string' as const }]),
        ),
      },
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  const options: SimulatorOptions = { port: 8728 };
  for (const [flag, option] of Object.entries(INTEGER_FLAGS)) {
    const text = values[flag];
    if (text === undefined) continue;
    if (typeof text !== 'string' || !/^\d+$/.test(text))
      fail(`--${flag} must be a non-negative integer, got '${String(text)}'`);
    options[option] = Number(text);
  }
  const settable = options as Record<string, unknown>;
  for (const [flag, option] of Object.entries(TEXT_FLAGS)) {
    if (typeof values[flag] === 'string') settable[option] = values[flag];
  }
  for (const [flag, { option, words }] of Object.entries(CHOICE_FLAGS)) {
    const word = values[flag];
    if (word === undefined) continue;
    if (!Object.hasOwn(words, word as string)) {
      const choices = Object.keys(words);
      fail(
        `--${flag} must be ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}, got '${String(word)}'`,
      );
    }
    settable[option] = (words as Record<string, string | boolean>)[word as string];
  }
  if (values['one-command-at-a-time'] === true) options.oneCommandAtATime = true;
  if (values['failed-login-closes'] === true) options.failedLoginCloses = true;
  const users = values['user-add'] as string[] | undefined;
  if (users !== undefined) options.users = Object.fromEntries(users.map(userEntry));
  const main = options.user ?? 'admin';
  if (options.users !== undefined && Object.hasOwn(options.users, main))
    fail(`--user-add ${main}: that is the --user account; give its password with --password`);
  return options;
}

/** `name:password` of `--user-add` (the password may hold `:`). */
function userEntry(text: string): [string, string] {
  const colon = text.indexOf(':');
  if (colon < 1) fail(`--user-add must be name:password, got '${text}'`);
  return [text.slice(0, colon), text.slice(colon + 1)];
}

/**
 * `rosgate simulate`: start a simulator from command-line flags and print how
 * to connect. The port defaults to 8728 here (0 in the programmatic API).
 */
export async function runSimulateCommand(
  argv: string[],
  out: NodeJS.WritableStream,
): Promise<Simulator> {
  const options = parseSimulateArgs(argv);
  const simulator = await startSimulator(options);
  const user = options.user ?? 'admin';
  const password =
    options.password === undefined || options.password === ''
      ? 'an empty password'
      : 'the given password';
  let line =
    `RouterOS ${simulator.version} API simulator listening on ${simulator.host}:${simulator.port}; ` +
    `connect with user ${user} and ${password}`;
  if (simulator.controlPort !== undefined)
    line += `; control port http://127.0.0.1:${simulator.controlPort}/counters`;
  out.write(`${line}\n`);
  return simulator;
}
