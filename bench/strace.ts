/** Reading what `strace -c` prints (the pipeline bench's system call counts). */
/**
 * The calls of `strace -c`'s total line: `% time, seconds, usecs/call,
 * calls, errors, total`, where errors is blank when there were none (the
 * relay's often), so columns are counted, not matched by pattern.
 */
export function straceTotalCalls(summary: string): number | undefined {
  const line = summary.split('\n').find((l) => /\stotal\s*$/.test(l));
  const calls = Number(line?.trim().split(/\s+/)[3]);
  return Number.isInteger(calls) ? calls : undefined;
}
