import { encodeSentence, encodeSentences, type WordInput } from './encoder.js';

/**
 * Builders for the reply sentences rosgate itself writes. Tags are Buffers
 * or latin1 strings; `undefined` means the command was untagged, and then no
 * `.tag` word is written at all (docs/routeros-api.md §4). The tag goes right after
 * the reply word, where current RouterOS puts it (§2): some clients
 * (mikronode-ng) read it only there and end a reply before a later tag.
 */
export type Tag = Buffer | string | undefined;

/** Trap categories (docs/routeros-api.md §2). */
export const TrapCategory = {
  MissingItem: 0,
  ArgumentValue: 1,
  Interrupted: 2,
  Scripting: 3,
  General: 4,
  Api: 5,
  Tty: 6,
  Return: 7,
} as const;
export type TrapCategory = (typeof TrapCategory)[keyof typeof TrapCategory];

const INTERRUPTED_CATEGORY = String(TrapCategory.Interrupted);

/** True when a trap's `=category=` (as sent) says its command was interrupted: cancelled. */
export function isInterruptedCategory(category: string | undefined): boolean {
  return category === INTERRUPTED_CATEGORY;
}

/** The `.tag=` word for `tag`, or nothing for an untagged command. */
export function tagWords(tag: Tag): WordInput[] {
  if (tag === undefined) return [];
  return typeof tag === 'string'
    ? [`.tag=${tag}`]
    : [Buffer.concat([Buffer.from('.tag=', 'latin1'), tag])];
}

/** `!done` words with optional attributes (`{ ret: '*3' }`). */
export function doneWords(tag: Tag, attributes: Record<string, WordInput> = {}): WordInput[] {
  return ['!done', ...tagWords(tag), ...attributeWords(attributes)];
}

/** `!re` words for a row. */
export function reWords(tag: Tag, attributes: Record<string, WordInput>): WordInput[] {
  return ['!re', ...tagWords(tag), ...attributeWords(attributes)];
}

/** `!trap` words: `=category=` only when given, `=message=` always (socialwifi needs it). */
export function trapWords(tag: Tag, message: string, category?: TrapCategory): WordInput[] {
  const words: WordInput[] = ['!trap', ...tagWords(tag)];
  if (category !== undefined) words.push(`=category=${category}`);
  words.push(`=message=${message}`);
  return words;
}

/** `!fatal` words: the reason is a raw word, not an attribute (§2). */
export function fatalWords(reason: string): WordInput[] {
  return ['!fatal', reason];
}

/** `=name=value` words, values taken byte for byte. */
export function attributeWords(attributes: Record<string, WordInput>): WordInput[] {
  const out: WordInput[] = [];
  for (const [name, value] of Object.entries(attributes)) {
    out.push(
      typeof value === 'string'
        ? `=${name}=${value}`
        : Buffer.concat([Buffer.from(`=${name}=`, 'latin1'), value]),
    );
  }
  return out;
}

/** `!done` as bytes. */
export function encodeDone(tag: Tag, attributes?: Record<string, WordInput>): Buffer {
  return encodeSentence(doneWords(tag, attributes));
}

/**
 * A refusal: `!trap` then `!done`, both on `tag`, in one Buffer so it goes
 * out in one write (docs/routeros-api.md §9: BenMenking and node-routeros need it).
 */
export function encodeTrapDone(tag: Tag, message: string, category?: TrapCategory): Buffer {
  return encodeSentences([trapWords(tag, message, category), doneWords(tag)]);
}

/** `!fatal` with its reason, as bytes. */
export function encodeFatal(reason: string): Buffer {
  return encodeSentence(fatalWords(reason));
}
