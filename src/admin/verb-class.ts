import type { CommandInfo } from '../pipeline.js';

/** How the metrics group commands: the `verb_class` label. */
export const VERB_CLASSES = ['read', 'write', 'stream', 'other'] as const;
export type VerbClass = (typeof VERB_CLASSES)[number];

/** The class of a command: its kind, with actions and scripts as `other`. */
export function verbClassOf(command: CommandInfo): VerbClass {
  switch (command.kind) {
    case 'read':
    case 'stream':
    case 'write':
      return command.kind;
    default:
      return 'other';
  }
}
