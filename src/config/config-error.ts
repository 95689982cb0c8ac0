import { ErrorCode, RosgateError, isRosgateError } from '../errors.js';

function summary(problems: readonly string[]): string {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return [`invalid configuration: ${count}`, ...problems.map((p) => `  - ${p}`)].join('\n');
}

/**
 * One error for every problem found, so a user fixes them in one pass
 * (docs/architecture.md code rule 8). Problems name a path or variable and a rule, never a value,
 * so no secret can reach the message.
 */
export function createConfigError(problems: readonly string[]): RosgateError {
  return new RosgateError(ErrorCode.Config, summary(problems), {
    details: { problems: [...problems] },
  });
}

/**
 * The text to print when loading fails: every problem of a config error on
 * its own line, or the message of any other error.
 */
export function formatConfigError(err: unknown): string {
  if (isRosgateError(err, ErrorCode.Config)) {
    const problems = err.details['problems'];
    if (Array.isArray(problems)) return summary(problems.map(String));
  }
  return err instanceof Error ? err.message : String(err);
}
