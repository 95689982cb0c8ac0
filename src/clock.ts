import { performance } from 'node:perf_hooks';

/** performance.timeOrigin, read once (the clock is read several times per command). */
const TIME_ORIGIN = performance.timeOrigin;

/**
 * Whole milliseconds on a clock that only moves forward: `Date.now()`'s
 * scale at the process's start, then `performance.now()`. A drop-in for
 * `Date.now` (whole numbers: they go to Redis as expiries) for lifetimes,
 * delays and rates: a wall clock stepped back (an NTP step, a VM's clock
 * corrected) must not stall the rate limit, hold a breaker open or keep a
 * cached reply fresh for the length of the step. What is written for people
 * and other processes (audit timestamps, lock files) keeps `Date.now`.
 */
export function monotonicNow(): number {
  return Math.floor(TIME_ORIGIN + performance.now());
}

/** {@link monotonicNow} with its fraction of a millisecond: command durations. */
export function preciseMonotonicNow(): number {
  return TIME_ORIGIN + performance.now();
}
