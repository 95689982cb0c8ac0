/**
 * Command-line numbers of the benchmarks: `--name N` or `--name=N`, a number
 * within [min, max]; the fallback when absent. Throws a RangeError naming the
 * option otherwise.
 */
export function numberArg(
  args: readonly string[],
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  let text: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === `--${name}`) text = args[i + 1];
    else if (arg.startsWith(`--${name}=`)) text = arg.slice(name.length + 3);
  }
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new RangeError(`--${name} must be a number ${min}-${max}`);
  }
  return value;
}

/**
 * A comma-separated list of numbers: `--name 10,50` or `--name=10,50`, each
 * within [min, max]; the fallback when absent. Throws a RangeError naming the
 * option otherwise.
 */
export function listArg(
  args: readonly string[],
  name: string,
  fallback: readonly number[],
  min: number,
  max: number,
): number[] {
  let text: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === `--${name}`) text = args[i + 1];
    else if (arg.startsWith(`--${name}=`)) text = arg.slice(name.length + 3);
  }
  if (text === undefined) return [...fallback];
  const values = text.split(',').map(Number);
  if (values.some((v) => !Number.isFinite(v) || v < min || v > max)) {
    throw new RangeError(`--${name} must be a comma-separated list of numbers ${min}-${max}`);
  }
  return values;
}
