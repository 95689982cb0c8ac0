#!/usr/bin/env node
import { runCli } from './cli.js';

// The process shell around runCli: signals and exit codes live here only.
runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  onStopSignal: (stop) => {
    const onSignal = (): void => {
      void stop().then(() => process.exit(0));
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
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
