/**
 * The RouterOS API query stack machine (docs/routeros-api.md §2), pure and
 * independent of sockets and menus.
 *
 * Each `?` word pushes one boolean, or (`?#`) rewrites the stack. The stack
 * starts as an endless supply of `true`; an item matches when no `false` is
 * left. Comparisons follow the simulator rules of §2, which the manual leaves
 * open: integers compare as numbers, everything else byte-wise, and
 * `yes`/`true`, `no`/`false` are equal to each other.
 */

/** Reads property `name` of the item under test; undefined when it has none. */
export type PropertyReader = (name: string) => Buffer | undefined;

/** A compiled query: true when the item matches. */
export type QueryPredicate = (read: PropertyReader) => boolean;

type Step =
  | { readonly kind: 'has'; readonly name: string }
  | { readonly kind: 'absent'; readonly name: string }
  | {
      readonly kind: 'compare';
      readonly op: '=' | '<' | '>';
      readonly name: string;
      readonly value: Buffer;
    }
  | { readonly kind: 'ops'; readonly ops: readonly StackOp[] };

type StackOp =
  | { readonly kind: 'copy'; readonly index: number }
  | { readonly kind: 'replace'; readonly index: number }
  | { readonly kind: 'not' | 'and' | 'or' | 'dup' };

const QUESTION = 0x3f;
const HASH = 0x23;
const MINUS = 0x2d;
const LT = 0x3c;
const GT = 0x3e;
const EQ = 0x3d;

/** Parse the operation string of a `?#` word. Characters it does not know are ignored. */
export function parseStackOps(text: string): StackOp[] {
  const ops: StackOp[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c >= '0' && c <= '9') {
      let j = i;
      while (j < text.length && (text[j] as string) >= '0' && (text[j] as string) <= '9') j++;
      const index = Number(text.slice(i, j));
      if (j === text.length) {
        ops.push({ kind: 'replace', index });
      } else {
        ops.push({ kind: 'copy', index });
        // A '.' right after an index only separates it from what follows.
        if (text[j] === '.') j++;
      }
      i = j;
      continue;
    }
    if (c === '!') ops.push({ kind: 'not' });
    else if (c === '&') ops.push({ kind: 'and' });
    else if (c === '|') ops.push({ kind: 'or' });
    else if (c === '.') ops.push({ kind: 'dup' });
    i++;
  }
  return ops;
}

function parseWord(word: Buffer): Step | undefined {
  if (word[0] !== QUESTION) return undefined;
  const kind = word[1];
  if (kind === HASH) return { kind: 'ops', ops: parseStackOps(word.toString('latin1', 2)) };
  if (kind === MINUS) return { kind: 'absent', name: word.toString('latin1', 2) };
  let op: '=' | '<' | '>' | undefined;
  let from = 1;
  if (kind === LT || kind === GT || kind === EQ) {
    op = kind === LT ? '<' : kind === GT ? '>' : '=';
    from = 2;
  }
  const split = word.indexOf(EQ, from);
  if (split < 0) {
    // `?name` tests presence; `?<name` without a value compares with empty.
    if (op === undefined) return { kind: 'has', name: word.toString('latin1', from) };
    return { kind: 'compare', op, name: word.toString('latin1', from), value: Buffer.alloc(0) };
  }
  return {
    kind: 'compare',
    op: op ?? '=',
    name: word.toString('latin1', from, split),
    value: word.subarray(split + 1),
  };
}

const TRUE_WORDS = new Set(['yes', 'true']);
const FALSE_WORDS = new Set(['no', 'false']);

function booleanOf(text: string): boolean | undefined {
  if (TRUE_WORDS.has(text)) return true;
  if (FALSE_WORDS.has(text)) return false;
  return undefined;
}

/** True when `value` is an integer: an optional `-` and one digit or more, checked in place. */
function isInteger(value: Buffer): boolean {
  const from = value[0] === MINUS ? 1 : 0;
  if (value.length === from) return false;
  for (let i = from; i < value.length; i++) {
    const c = value[i] as number;
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** -1, 0 or 1: numbers as numbers when both sides are integers, else bytes. */
export function compareValues(a: Buffer, b: Buffer): number {
  if (isInteger(a) && isInteger(b)) {
    const x = BigInt(a.toString('latin1'));
    const y = BigInt(b.toString('latin1'));
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return Buffer.compare(a, b);
}

/** The longest boolean spelling (`false`). */
const LONGEST_BOOLEAN = 5;

/**
 * Equality with the boolean spellings folded together: what
 * `compareValues(a, b) === 0` says otherwise. Different bytes are equal only
 * as two boolean words or two integers, so most rows of a lookup are told
 * apart with no string made (the integer check reads the bytes in place).
 */
export function valuesEqual(a: Buffer, b: Buffer): boolean {
  if (a.equals(b)) return true;
  if (a.length <= LONGEST_BOOLEAN && b.length <= LONGEST_BOOLEAN) {
    const x = booleanOf(a.toString('latin1'));
    if (x !== undefined && x === booleanOf(b.toString('latin1'))) return true;
  }
  // Bytes that differ compare equal only as numbers.
  return isInteger(a) && isInteger(b) && compareValues(a, b) === 0;
}

function test(step: Exclude<Step, { kind: 'ops' }>, read: PropertyReader): boolean {
  const value = read(step.name);
  if (step.kind === 'has') return value !== undefined;
  if (step.kind === 'absent') return value === undefined;
  if (value === undefined) return false;
  if (step.op === '=') return valuesEqual(value, step.value);
  const order = compareValues(value, step.value);
  return step.op === '<' ? order < 0 : order > 0;
}

/** The stack, with the endless `true` below what was pushed. */
class Stack {
  items: boolean[] = [];
  pop(): boolean {
    return this.items.pop() ?? true;
  }
  push(value: boolean): void {
    this.items.push(value);
  }
  /** Element `index` counted from the top (0). */
  at(index: number): boolean {
    return this.items[this.items.length - 1 - index] ?? true;
  }
}

function apply(ops: readonly StackOp[], stack: Stack): void {
  for (const op of ops) {
    switch (op.kind) {
      case 'copy':
        stack.push(stack.at(op.index));
        break;
      case 'replace':
        stack.items = [stack.at(op.index)];
        break;
      case 'not':
        stack.push(!stack.pop());
        break;
      case 'and': {
        const a = stack.pop();
        const b = stack.pop();
        stack.push(a && b);
        break;
      }
      case 'or': {
        const a = stack.pop();
        const b = stack.pop();
        stack.push(a || b);
        break;
      }
      case 'dup':
        stack.push(stack.at(0));
        break;
    }
  }
}

/**
 * Compile query words (in order; words not starting with `?` are skipped).
 * No query words match every item.
 */
export function compileQuery(words: readonly Buffer[]): QueryPredicate {
  const steps: Step[] = [];
  for (const word of words) {
    const step = parseWord(word);
    if (step !== undefined) steps.push(step);
  }
  if (steps.length === 0) return () => true;
  return (read) => {
    const stack = new Stack();
    for (const step of steps) {
      if (step.kind === 'ops') apply(step.ops, stack);
      else stack.push(test(step, read));
    }
    return !stack.items.includes(false);
  };
}
