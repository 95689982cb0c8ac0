import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Paths pino censors wherever they appear in a log record (docs/architecture.md invariant
 * 8). Set once, on the root logger: a child's own list would replace it.
 */
export const REDACT_PATHS = [
  'password',
  'secret',
  'passwordHash',
  '*.password',
  '*.secret',
  '*.passwordHash',
  '*.*.password',
  'routers[*].password',
  'users[*].password',
  'users[*].secret',
];

/** The root logger, writing JSON lines to `destination` (stdout, or a test's sink). */
export function createLogger(level: string, destination: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'rosgate' },
    redact: { paths: REDACT_PATHS, censor: '***' },
  };
  return pino(options, destination);
}

/**
 * `logger` with `router` bound: the logger itself when it is already bound
 * to that router. pino writes every binding it is given, so binding a key
 * twice writes it twice in each line, which strict JSON parsers reject.
 */
export function routerLogger(logger: Logger, router: string): Logger {
  return logger.bindings()['router'] === router ? logger : logger.child({ router });
}
