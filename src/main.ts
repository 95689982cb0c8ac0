#!/usr/bin/env node
import { runCli } from './cli.js';

// The process shell around runCli: signals and exit codes live here only.
runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  onStopSignal: (stop) => {
    // The first signal drains (see App.stop); a second one exits at once.
    let isStopping = false;
    const onSignal = (): void => {
      if (isStopping) process.exit(1);
      isStopping = true;
      void stop().then(() => process.exit(0));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  },
  onReloadSignal: (reload) => {
    process.on('SIGHUP', () => void reload());
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
