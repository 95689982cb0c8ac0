import { parseArgs } from 'node:util';
import { ErrorCode, RosgateError } from '../errors.js';
import { startSimulator, type Simulator, type SimulatorOptions } from './index.js';
import { REFUSE_LISTEN_MODES, type RefuseListen } from './options.js';

const USAGE =
  'rosgate simulate [--host 127.0.0.1] [--port 8728] [--user admin] [--password ""] [--version 7.19] ' +
  '[--seed N] [--hotspot-users N] [--ppp-secrets N] [--max-sessions N] [--control-port N] [--latency-ms N] ' +
  '[--row-latency-ms N] [--latency-per-100-rows-ms N] [--stream-interval-ms N] [--one-command-at-a-time] ' +
  '[--tag-position first|last] [--refuse-listen off|proplist|always]';

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
} as const satisfies Record<string, keyof SimulatorOptions>;

function fail(message: string): never {
  throw new RosgateError(ErrorCode.Config, `${message}\nusage: ${USAGE}`, {
    details: { usage: USAGE },
  });
}

/** Parse `rosgate simulate` flags into options; errors name the flag. */
export function parseSimulateArgs(argv: string[]): SimulatorOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string' },
        user: { type: 'string' },
        password: { type: 'string' },
        version: { type: 'string' },
        'one-command-at-a-time': { type: 'boolean' },
        'tag-position': { type: 'string' },
        'refuse-listen': { type: 'string' },
        ...Object.fromEntries(
          Object.keys(INTEGER_FLAGS).map((flag) => [flag, { type: 'string' as const }]),
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
  if (typeof values.host === 'string') options.host = values.host;
  if (typeof values.user === 'string') options.user = values.user;
  if (typeof values.password === 'string') options.password = values.password;
  if (typeof values.version === 'string') options.version = values.version;
  if (values['one-command-at-a-time'] === true) options.oneCommandAtATime = true;
  const tagPosition = values['tag-position'];
  if (tagPosition !== undefined) {
    if (tagPosition !== 'first' && tagPosition !== 'last')
      fail(`--tag-position must be first or last, got '${String(tagPosition)}'`);
    options.tagPosition = tagPosition;
  }
  const refuse = values['refuse-listen'];
  if (refuse !== undefined) {
    if (!(REFUSE_LISTEN_MODES as readonly unknown[]).includes(refuse))
      fail(`--refuse-listen must be off, proplist or always, got '${String(refuse)}'`);
    options.refuseListen = refuse as RefuseListen;
  }
  return options;
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
