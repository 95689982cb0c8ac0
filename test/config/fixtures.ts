import { isRosgateError } from '../../src/errors.js';

/** The problems of the config error `fn` throws; fails loudly if it does not throw one. */
export function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (isRosgateError(err, 'ROSGATE_CONFIG')) return err.details['problems'] as string[];
    throw err;
  }
  throw new Error('expected a ROSGATE_CONFIG error');
}

/** Like problemsOf, for a promise. */
export async function problemsOfAsync(promise: Promise<unknown>): Promise<string[]> {
  try {
    await promise;
  } catch (err) {
    if (isRosgateError(err, 'ROSGATE_CONFIG')) return err.details['problems'] as string[];
    throw err;
  }
  throw new Error('expected a ROSGATE_CONFIG error');
}

/** The error itself, for checks on its message. */
export function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

/** The smallest valid router. */
export const ROUTER = Object.freeze({ host: 'router.example', password: 'router-pw' });
