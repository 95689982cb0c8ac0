/**
 * `compute(key)`, remembered for the first `max` keys asked for; past them
 * it is computed each time. For lookups made per command or per reply whose
 * keys clients choose (menu paths, attribute names): the few real ones are
 * remembered, and the memory an odd client can take is bounded.
 */
export function boundedMemo<V>(max: number, compute: (key: string) => V): (key: string) => V {
  const known = new Map<string, V>();
  return (key) => {
    const remembered = known.get(key);
    // One lookup for a remembered value; `has` only tells a remembered undefined from none.
    if (remembered !== undefined || known.has(key)) return remembered as V;
    const value = compute(key);
    if (known.size < max) known.set(key, value);
    return value;
  };
}
