import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { resolveAuditKeys, runAuditCli, type AuditKeys } from './audit/index.js';
import { parseArgs } from 'node:util';
import { checkRouterLogin, createApp, type App, type RouterRuntime } from './app.js';
import {
  DEFAULT_LISTEN,
  formatConfigError,
  hashPassword,
  loadConfig,
  validateConfig,
} from './config/index.js';
import { createLogger } from './logger.js';
import { runSimulateCommand } from './simulator/cli.js';
import { startSimulator, type Simulator } from './simulator/index.js';
import type { LoadedConfig, RouterConfig } from './config/index.js';

/** rosgate's version, from package.json. */
const VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

const USAGE = `usage:
  rosgate [--config config.yaml]        run the proxy (environment overrides the file)
          [--simulate-if-unconfigured]  with no router configured, front the bundled simulator
  rosgate --version                     print rosgate's version
  rosgate demo                          run the proxy in front of the bundled simulator
  rosgate simulate [--port 8728 ...]    run the RouterOS API simulator
  rosgate hash-password < file          print a scrypt hash for users[].passwordHash of the
                                        password on stdin (the first line; or type it)
  rosgate config check [--config F] [--simulate-if-unconfigured] [--connect]
                                        every check rosgate makes before it starts, without starting;
                                        --connect also logs in to each router once
  rosgate audit verify FILE... [--head SEQ:HASH] [--key-file F]
  rosgate audit search [--from --to --user --category --path --verb --result --router --replica --ip] [--format json|table]
  rosgate audit report --group-by category|user|path|result|router [--from --to] [--format json|table]`;

/** What the CLI touches outside itself, injectable for tests. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** What `hash-password` reads the password from. @default none */
  stdin?: NodeJS.ReadableStream;
  /** Register the graceful-stop handler (SIGTERM and SIGINT in production). */
  onStopSignal: (stop: () => Promise<void>) => void;
  /** Register the reload handler (SIGHUP in production). @default none */
  onReloadSignal?: (reload: () => Promise<void>) => void;
  /**
   * Aborted by a stop signal that came before a stop handler was registered
   * (while starting): `start` then gives up (exit 0) instead of serving.
   * @default never aborted
   */
  stopSignal?: AbortSignal;
}

/** A command that keeps running returns this handle; others return an exit code. */
export interface Running {
  stop(): Promise<void>;
  /** The proxy's client port, when one was started. */
  port?: number;
}

/** Commands that finish by themselves; every other command line keeps running (a server). */
const FINITE_COMMANDS: ReadonlySet<string | undefined> = new Set([
  'audit',
  'config',
  'hash-password',
  '--help',
  '-h',
  'help',
  '--version',
  'version',
]);

/**
 * True when `argv` starts something that runs until stopped (`start`,
 * `simulate`, `demo`): only those take over the stop and reload signals.
 */
export function isServerCommand(argv: readonly string[]): boolean {
  return !FINITE_COMMANDS.has(argv[0]);
}

/**
 * Run the rosgate command line. Resolves with an exit code for commands
 * that finish, or a {@link Running} handle for servers.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number | Running> {
  const [first, ...rest] = argv;
  switch (first) {
    case 'simulate': {
      const simulator = await runSimulateCommand(rest, io.stdout);
      const stop = (): Promise<void> => simulator.close();
      io.onStopSignal(stop);
      return { stop, port: simulator.port };
    }
    case 'demo':
      return demo(rest, io);
    case 'audit':
      return runAuditCli(rest, io);
    case 'config':
      return configCommand(rest, io);
    case 'hash-password': {
      // The argument form stays for scripts that use it; stdin keeps the
      // password out of `ps` and the shell's history.
      const password = rest[0] ?? (await readPassword(io));
      if (password === undefined || password === '') {
        io.stderr.write(
          'hash-password needs the password on stdin (rosgate hash-password < file, or type it and Enter)\n',
        );
        return 2;
      }
      io.stdout.write(`${await hashPassword(password)}\n`);
      return 0;
    }
    case '--help':
    case '-h':
    case 'help':
      io.stdout.write(`${USAGE}\n`);
      return 0;
    case '--version':
    case 'version':
      io.stdout.write(`rosgate ${VERSION} (node ${process.version})\n`);
      return 0;
    default:
      return start(first === 'start' ? rest : argv, io);
  }
}

/** The first line of stdin (piped, or typed and Enter); undefined without stdin. */
async function readPassword(io: CliIo): Promise<string | undefined> {
  const { stdin } = io;
  if (stdin === undefined) return undefined;
  if ((stdin as { isTTY?: boolean }).isTTY === true)
    io.stderr.write('password (shown as you type; Enter ends it): ');
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) {
    const bytes = Buffer.from(chunk);
    chunks.push(bytes);
    if (bytes.includes(0x0a)) break;
  }
  const [line] = Buffer.concat(chunks).toString('utf8').split('\n');
  return (line as string).replace(/\r$/, '');
}

/**
 * `rosgate config check`: runs every check `start` makes before it starts
 * anything ({@link planStart}: the file, then the environment, a router,
 * the audit keys) and prints every problem, or the warnings and `ok`.
 */
async function configCommand(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'check') {
    io.stderr.write(
      'usage: rosgate config check [--config config.yaml] [--simulate-if-unconfigured] [--connect]\n',
    );
    return 2;
  }
  const isConnecting = rest.includes('--connect');
  const plan = await planStart(
    rest.filter((arg) => arg !== '--connect'),
    io,
  );
  if (plan === undefined) return 1;
  for (const w of plan.warnings) io.stdout.write(`warning ${w.code}: ${w.message}\n`);
  if (plan.isSimulated)
    io.stdout.write('note: no router configured: rosgate would front the bundled simulator\n');
  io.stdout.write('ok: the configuration is valid\n');
  return isConnecting ? checkLogins(plan.config.routers, io) : 0;
}

/**
 * `config check --connect`: logs in to each router once with rosgate's own
 * account, as its sessions will; 1 when any refuses or cannot be reached.
 */
async function checkLogins(routers: readonly RouterConfig[], io: CliIo): Promise<number> {
  let failed = 0;
  for (const router of routers) {
    const at = `router ${router.name} (${router.host}:${router.port}, user ${router.username})`;
    const check = await checkRouterLogin(router);
    if (check.isOk) {
      const version =
        check.version === undefined ? 'version not told' : `RouterOS ${check.version}`;
      io.stdout.write(`ok: ${at} accepted rosgate's login (${version})\n`);
      continue;
    }
    failed++;
    io.stdout.write(`error ${check.code}: ${at}: ${check.reason}\n`);
    if (check.hint !== undefined) io.stdout.write(`hint: ${check.hint}\n`);
  }
  return failed === 0 ? 0 : 1;
}

/** What `start` runs with, once the configuration passed every check `start` makes. */
interface StartPlan extends LoadedConfig {
  readonly auditKeys: AuditKeys;
  /** No router configured and `--simulate-if-unconfigured`: the bundled simulator is the router. */
  readonly isSimulated: boolean;
  /** Loads the configuration again (SIGHUP). */
  readonly load: () => Promise<LoadedConfig>;
}

const NO_ROUTER =
  'rosgate: no router configured. Set MIKROTIK_HOST (and MIKROTIK_USERNAME, MIKROTIK_PASSWORD) or add a ' +
  'routers: entry to the config file.\nTo try rosgate without a router: npm run demo\n';

/**
 * Every check `start` makes before it starts anything, shared with `config
 * check`: the configuration loads, a router is configured (or the bundled
 * simulator stands in, with `--simulate-if-unconfigured`), the audit keys
 * resolve. Problems go to stderr and give undefined.
 */
async function planStart(argv: string[], io: CliIo): Promise<StartPlan | undefined> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      'simulate-if-unconfigured': { type: 'boolean' },
    },
  });
  const load = () =>
    loadConfig({ ...(values.config === undefined ? {} : { file: values.config }), env: io.env });
  // Files the configuration names (audit key files) are relative to it.
  const configDir = values.config === undefined ? '.' : dirname(values.config);
  try {
    const { config, warnings } = await load();
    // The newcomer's `npm start`: try rosgate before pointing it at a router.
    const isSimulated = config.routers.length === 0 && values['simulate-if-unconfigured'] === true;
    if (config.routers.length === 0 && !isSimulated) {
      io.stderr.write(NO_ROUTER);
      return undefined;
    }
    const auditKeys = await resolveAuditKeys(config.audit, io.env, (path) =>
      readFile(resolve(configDir, path)),
    );
    return {
      config,
      warnings: warnings.filter((w) => !isSimulated || w.code !== 'ROSGATE_CONFIG_NO_ROUTERS'),
      auditKeys,
      isSimulated,
      load,
    };
  } catch (err) {
    io.stderr.write(`${formatConfigError(err)}\n`);
    return undefined;
  }
}

async function start(argv: string[], io: CliIo): Promise<number | Running> {
  const plan = await planStart(argv, io);
  if (plan === undefined) return 1;
  const { warnings, auditKeys, load } = plan;
  let { config } = plan;
  const isStopAsked = (): boolean => io.stopSignal?.aborted === true;
  if (isStopAsked()) return 0;
  let simulator: Simulator | undefined;
  if (plan.isSimulated) {
    simulator = await startSimulator(DEMO_SIMULATOR);
    config = { ...config, routers: [simulatorRouter(simulator.port, DEFAULT_LISTEN.port, io.env)] };
  }
  const logger = createLogger(config.log.level, io.stdout);
  for (const w of warnings) logger.warn({ code: w.code, path: w.path }, w.message);
  if (simulator !== undefined) {
    logger.warn(
      { simulatorPort: simulator.port },
      'no router configured: fronting the bundled RouterOS simulator (user admin, password admin); set MIKROTIK_HOST for a real router',
    );
  }
  const app = createApp(config, logger, { version: VERSION, auditKeys });
  try {
    await app.start(io.stopSignal);
  } catch (err) {
    // A stop while waiting on the audit lock: nothing was bound or opened.
    // Any other failure is told, stop or not.
    if (!isStopAsked() || err !== io.stopSignal?.reason) throw err;
    await simulator?.close();
    logger.info('stopped while starting');
    return 0;
  }
  // SIGHUP re-reads the file: live keys change as a PUT would change them,
  // anything else is refused. The file wins for the keys it changed since
  // the last load; PUT-made values of the others stay (App.reload logs both).
  io.onReloadSignal?.(
    oneAtATime(async () => {
      try {
        const next = await load();
        if (simulator !== undefined && next.config.routers.length > 0) {
          // As any change that needs a restart: the whole reload is refused.
          const error =
            'routers were added while rosgate fronts the bundled simulator: it needs a restart';
          logger.warn({ errors: [error] }, 'configuration reload refused; nothing changed');
          app.metrics.recordReload(false, `configuration reload refused: ${error}`);
          return;
        }
        const routers = simulator === undefined ? next.config.routers : app.config.routers;
        await app.reload({ ...next.config, routers });
      } catch (err) {
        logger.warn(
          { err: formatConfigError(err) },
          'configuration reload refused; nothing changed',
        );
        app.metrics.recordReload(false, 'configuration reload refused: the file is invalid');
      }
    }),
  );
  const running = simulator;
  // The grace in force when the signal comes: `shutdown.graceMs` is live.
  return serve(app, undefined, io, running && (() => running.close()));
}

/**
 * `run` one call at a time: a call while one runs makes one more run after
 * it (any number of calls meanwhile, one run), and resolves when that ends.
 * Two SIGHUPs in a row read the file twice, and the later read wins even
 * when the earlier one is slower (a secret file on a slow volume).
 */
function oneAtATime(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let next: Promise<void> | undefined;
  const start = (): Promise<void> => {
    running = run().finally(() => (running = undefined));
    return running;
  };
  return () => {
    if (running === undefined) return start();
    next ??= running.then(() => {
      next = undefined;
      return start();
    });
    return next;
  };
}

/** The simulator `demo` and `--simulate-if-unconfigured` start. */
const DEMO_SIMULATOR = {
  user: 'admin',
  password: 'admin',
  version: '7.19',
  hotspotUsers: 500,
} as const;

/** A router entry for the bundled simulator; PROXY_PORT still chooses the client port. */
function simulatorRouter(simulatorPort: number, port: number, env: NodeJS.ProcessEnv) {
  const { config } = validateConfig(
    {
      routers: [
        {
          host: '127.0.0.1',
          port: simulatorPort,
          username: 'admin',
          password: 'admin',
          listen: { host: '127.0.0.1', port },
        },
      ],
    },
    { PROXY_PORT: env.PROXY_PORT },
  );
  return config.routers[0] as RouterConfig;
}

async function demo(argv: string[], io: CliIo): Promise<Running> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, 'router-version': { type: 'string' } },
  });
  const simulator = await startSimulator({
    ...DEMO_SIMULATOR,
    version: values['router-version'] ?? DEMO_SIMULATOR.version,
  });
  // LOG_LEVEL, PROXY_PORT, MONITORING_PORT and AUDIT_LOG_DIR apply as they do
  // for `start` (--port wins over PROXY_PORT); nothing else of the
  // environment does: the router is the simulator.
  const { config } = validateConfig(
    {
      routers: [
        {
          host: '127.0.0.1',
          port: simulator.port,
          username: 'admin',
          password: 'admin',
          listen: { host: '127.0.0.1', port: Number(values.port ?? DEFAULT_LISTEN.port) },
        },
      ],
    },
    {
      PROXY_PORT: values.port === undefined ? io.env.PROXY_PORT : undefined,
      LOG_LEVEL: io.env.LOG_LEVEL,
      MONITORING_PORT: io.env.MONITORING_PORT,
      AUDIT_LOG_DIR: io.env.AUDIT_LOG_DIR,
    },
  );
  const logger = createLogger(config.log.level, io.stdout);
  const app = createApp(config, logger, { version: VERSION });
  await app.start();
  const proxyPort = app.routers[0]?.port;
  io.stdout.write(
    `\nrosgate demo: a RouterOS ${values['router-version'] ?? '7.19'} simulator on 127.0.0.1:${simulator.port}, ` +
      `rosgate in front of it on 127.0.0.1:${proxyPort}.\n` +
      `Point any RouterOS API client at 127.0.0.1:${proxyPort}, user admin, password admin. Ctrl-C stops.\n\n`,
  );
  return serve(app, 2000, io, () => simulator.close());
}

/** Stops `app` on a stop signal, after `graceMs` (default: the live `shutdown.graceMs`). */
function serve(
  app: App,
  graceMs: number | undefined,
  io: CliIo,
  after?: () => Promise<void>,
): Running {
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= app.stop(graceMs).then(() => after?.());
    return stopping;
  };
  io.onStopSignal(stop);
  return { stop, port: (app.routers[0] as RouterRuntime).port };
}
