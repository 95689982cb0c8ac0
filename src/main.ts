#!/usr/bin/env node
import { isServerCommand, runCli } from './cli.js';

// The process shell around runCli: signals and exit codes live here only.
// A server's handlers are in place before anything starts: as PID 1 in a
// container a signal without a handler is ignored, and elsewhere SIGHUP
// would kill. A command that finishes (audit, config, hash-password) keeps
// Node's defaults: a signal ends it.
const argv = process.argv.slice(2);
let stop: (() => Promise<void>) | undefined;
let reload: (() => Promise<void>) | undefined;
let isStopping = false;
const starting = new AbortController();

function stopNow(handler: () => Promise<void>): void {
  void handler().then(() => process.exit(0));
}

// The first signal drains (see App.stop); a second one exits at once. One
// during the start ends it (`stopSignal`), or stops right after it.
function onStopSignal(): void {
  if (isStopping) process.exit(1);
  isStopping = true;
  if (stop !== undefined) stopNow(stop);
  else starting.abort(new Error('stopped while starting'));
}
// A hangup reloads a server that can; one that cannot (simulate, demo)
// stops as a hung-up terminal's program does; while starting it is ignored.
function onHangup(): void {
  if (reload !== undefined) void reload();
  else if (stop !== undefined) onStopSignal();
  else process.stderr.write('rosgate: SIGHUP while starting ignored; send it again once started\n');
}
if (isServerCommand(argv)) {
  process.on('SIGTERM', onStopSignal);
  process.on('SIGINT', onStopSignal);
  process.on('SIGHUP', onHangup);
}

runCli(argv, {
  stdout: process.stdout,
  stderr: process.stderr,
  // Only hash-password reads it: made on demand.
  get stdin() {
    return process.stdin;
  },
  env: process.env,
  stopSignal: starting.signal,
  onStopSignal: (handler) => {
    stop = handler;
    if (isStopping) stopNow(handler);
  },
  onReloadSignal: (handler) => {
    reload = handler;
  },
}).then(
  (result) => {
    if (typeof result === 'number') process.exit(result);
  },
  (err: unknown) => {
    process.stderr.write(`rosgate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
