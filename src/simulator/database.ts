import type { TrapCategory } from '../protocol/index.js';
import type { QueryPredicate } from './query.js';

/**
 * The simulator's in-memory configuration: menus of rows whose values are
 * Buffers, so every byte a client stores comes back unchanged (§7).
 */

/** One item: property name (latin1) to raw value. Items of lists carry `.id`. */
export type Row = Map<string, Buffer>;

/** Values as callers give them: strings are taken byte for byte (latin1). */
export type InputValues = Readonly<Record<string, string | Buffer>> | ReadonlyMap<string, Buffer>;

/**
 * A writable property: free text, a boolean, one of a fixed set of words, or
 * the name of a row of another menu (`profile` of a hotspot user names a
 * `/ip/hotspot/user/profile`): a router refuses a name that is not there.
 */
export type PropertyKind = 'text' | 'bool' | readonly string[] | { readonly nameIn: string };

/** Verbs a menu may offer, besides the unknown-path traps for the others. */
export const ALL_VERBS = [
  'print',
  'getall',
  'get',
  'add',
  'set',
  'remove',
  'enable',
  'disable',
  'unset',
  'listen',
] as const;
export type Verb = (typeof ALL_VERBS)[number];

export interface MenuSpec {
  /** `/ip/hotspot/user` */
  readonly path: string;
  /** Properties `add` and `set` accept, with their kind. */
  readonly writable: Readonly<Record<string, PropertyKind>>;
  /** Values `add` fills in when the client leaves them out. */
  readonly defaults?: Readonly<Record<string, string>>;
  /** Properties kept but never shown (a user's `password`): read them with {@link Menu.secretOf}. */
  readonly hidden?: readonly string[];
  /** Properties that together must be unique among the rows. */
  readonly unique?: readonly string[];
  /** Trap text for a duplicate. @default 'failure: already have such entry' */
  readonly duplicateMessage?: string;
  /** One row without `.id` (`/system/identity`). */
  readonly singleton?: boolean;
  /** Verbs offered. @default all of ALL_VERBS (singletons: print, getall, get, set, listen) */
  readonly verbs?: readonly Verb[];
  /** Recomputes live values (uptime, load) of a row just before it is printed. */
  readonly refresh?: (row: Row) => Row;
}

/**
 * The kind of a writable property, or undefined when `name` is none: own
 * keys only, so a client's `constructor` or `toString` is an unknown
 * parameter, not something found on Object.prototype.
 */
function kindOf(spec: MenuSpec, name: string): PropertyKind | undefined {
  return Object.hasOwn(spec.writable, name) ? spec.writable[name] : undefined;
}

/** A refusal the client sees as `!trap` (then `!done`). */
export class TrapError extends Error {
  readonly category: TrapCategory | undefined;
  constructor(message: string, category?: TrapCategory) {
    super(message);
    this.name = 'TrapError';
    this.category = category;
  }
}

/** A change, as `listen` reports it: the new row, or `.id` plus `.dead=yes`. */
export type ChangeListener = (row: Row) => void;

const TRUE = Buffer.from('true', 'latin1');
const FALSE = Buffer.from('false', 'latin1');
const YES = Buffer.from('yes', 'latin1');
const ID = '.id';
/** What a menu's query reader reads before its first row. */
const EMPTY_ROW: Row = new Map();

function isNameIn(kind: PropertyKind): kind is { readonly nameIn: string } {
  return typeof kind === 'object' && 'nameIn' in kind;
}

function toMap(values: InputValues): Map<string, Buffer> {
  if (values instanceof Map) return new Map(values);
  const out = new Map<string, Buffer>();
  for (const [name, value] of Object.entries(values as Record<string, string | Buffer>)) {
    out.set(name, typeof value === 'string' ? Buffer.from(value, 'latin1') : Buffer.from(value));
  }
  return out;
}

/** Messages the menus use; the simulator options can change them. */
export interface MenuMessages {
  unknownParameter: (name: string) => string;
  noSuchItem: string;
}

const DEFAULT_MESSAGES: MenuMessages = {
  unknownParameter: (name) => `unknown parameter ${name}`,
  noSuchItem: 'no such item',
};

/** One menu (`/ppp/secret`): rows in insertion order plus its change listeners. */
export class Menu {
  readonly spec: MenuSpec;
  readonly verbs: ReadonlySet<Verb>;
  readonly #rows = new Map<string, Row>();
  readonly #listeners = new Set<ChangeListener>();
  readonly #messages: MenuMessages;
  /** Another menu of the same router, for the properties that name its rows. */
  readonly #menuAt: (path: string) => Menu | undefined;
  /** Unique key (latin1, NUL-joined) to row, so seeding thousands of rows stays linear. */
  readonly #unique = new Map<string, Row>();
  /** `spec.hidden`: properties no print shows and no query sees. */
  readonly #hidden: ReadonlySet<string>;
  #nextId = 1;

  /** @internal Made by {@link Database.define}: `menuAt` finds the router's other menus. */
  constructor(spec: MenuSpec, messages: MenuMessages, menuAt: (path: string) => Menu | undefined) {
    this.spec = spec;
    this.#messages = messages;
    this.#menuAt = menuAt;
    this.#hidden = new Set(spec.hidden);
    const verbs: readonly Verb[] =
      spec.verbs ?? (spec.singleton ? ['print', 'getall', 'get', 'set', 'listen'] : ALL_VERBS);
    // enable/disable exist only where there is a `disabled` to switch.
    this.verbs = new Set(
      verbs.filter(
        (verb) =>
          (verb !== 'enable' && verb !== 'disable') || kindOf(spec, 'disabled') !== undefined,
      ),
    );
    if (spec.singleton) this.#rows.set('', new Map());
  }

  get size(): number {
    return this.#rows.size;
  }

  /** Current rows, refreshed, in order. The maps are copies. */
  rows(): Row[] {
    const out: Row[] = [];
    for (const row of this.#rows.values()) out.push(this.#view(row));
    return out;
  }

  /**
   * The current rows `match` accepts, refreshed, in order; copies. A menu
   * whose values do not change on reading tests its rows as stored (hidden
   * properties unseen) and copies only those that match: a `?name=` lookup
   * costs no copy of every row.
   */
  select(match: QueryPredicate): Row[] {
    if (this.spec.refresh !== undefined)
      return this.rows().filter((row) => match((name) => row.get(name)));
    const hidden = this.#hidden;
    let row: Row = EMPTY_ROW;
    const read = (name: string): Buffer | undefined =>
      hidden.has(name) ? undefined : row.get(name);
    const out: Row[] = [];
    for (row of this.#rows.values()) if (match(read)) out.push(this.#view(row));
    return out;
  }

  /** The row with `.id` (`*1A`), or for menus with names, the row with that name; singletons ignore the key. */
  find(key: string): Row | undefined {
    const row = this.#lookup(key);
    return row === undefined ? undefined : this.#view(row);
  }

  /** A hidden property of the row `key` names, as stored; undefined when the row or the value is not there. */
  secretOf(key: string, property: string): Buffer | undefined {
    return this.#lookup(key)?.get(property);
  }

  /** The first row whose `property` equals `value` byte for byte. */
  findBy(property: string, value: string | Buffer): Row | undefined {
    const wanted = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
    for (const row of this.#rows.values()) {
      if (row.get(property)?.equals(wanted)) return this.#view(row);
    }
    return undefined;
  }

  /** Subscribe to changes; returns the unsubscribe function. */
  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * Add a row as a client would; returns its new `.id`. With `trusted`
   * (seeding), read-only properties may be given too.
   */
  add(values: InputValues, trusted = false): string {
    const input = this.#check(values, trusted);
    const row: Row = new Map();
    for (const [name, value] of Object.entries(this.spec.defaults ?? {}))
      row.set(name, Buffer.from(value, 'latin1'));
    for (const [name, value] of input) row.set(name, value);
    this.#checkUnique(row, undefined);
    const id = `*${(this.#nextId++).toString(16).toUpperCase()}`;
    const stored: Row = new Map([[ID, Buffer.from(id, 'latin1')], ...row]);
    this.#rows.set(id, stored);
    this.#index(stored, undefined);
    this.#emit(stored);
    return id;
  }

  /** Change properties of the rows named by `keys` (ids or names; checked before any change). */
  set(keys: readonly string[], values: InputValues, trusted = false): void {
    const input = this.#check(values, trusted);
    const rows = this.#resolve(keys);
    // Two rows of one set may not end up with the same unique key either.
    const batch = new Set<string | undefined>();
    for (const row of rows) {
      const next = new Map(row);
      for (const [name, value] of input) next.set(name, value);
      this.#checkUnique(next, row);
      const key = this.#key(next);
      if (key !== undefined && batch.has(key)) throw this.#duplicate();
      batch.add(key);
    }
    for (const row of rows) {
      const before = this.#key(row);
      for (const [name, value] of input) row.set(name, value);
      this.#index(row, before);
      this.#emit(row);
    }
  }

  /** Remove properties (`unset =value-name=comment`). */
  unset(keys: readonly string[], names: readonly string[]): void {
    for (const name of names) {
      if (kindOf(this.spec, name) === undefined)
        throw new TrapError(this.#messages.unknownParameter(name));
    }
    const rows = this.#resolve(keys);
    for (const row of rows) {
      const before = this.#key(row);
      for (const name of names) row.delete(name);
      this.#index(row, before);
      this.#emit(row);
    }
  }

  /** Remove the rows named by `keys`; all must exist. */
  remove(keys: readonly string[]): void {
    const rows = this.#resolve(keys);
    for (const row of rows) {
      const id = (row.get(ID) as Buffer).toString('latin1');
      this.#rows.delete(id);
      const key = this.#key(row);
      if (key !== undefined) this.#unique.delete(key);
      for (const listener of [...this.#listeners])
        listener(
          new Map([
            [ID, row.get(ID) as Buffer],
            ['.dead', YES],
          ]),
        );
    }
  }

  /** Rows for keys: each an id, a name, or (singletons) anything. */
  #resolve(keys: readonly string[]): Row[] {
    const rows: Row[] = [];
    for (const key of this.spec.singleton ? [''] : keys) {
      const row = this.#lookup(key);
      if (row === undefined) throw new TrapError(this.#messages.noSuchItem);
      if (!rows.includes(row)) rows.push(row);
    }
    return rows;
  }

  #lookup(key: string): Row | undefined {
    if (this.spec.singleton) return this.#rows.get('');
    if (key.startsWith('*')) return this.#rows.get(`*${key.slice(1).toUpperCase()}`);
    const wanted = Buffer.from(key, 'latin1');
    for (const row of this.#rows.values()) {
      if (row.get('name')?.equals(wanted)) return row;
    }
    return undefined;
  }

  #check(values: InputValues, trusted: boolean): Map<string, Buffer> {
    const input = toMap(values);
    for (const [name, value] of input) {
      const kind = kindOf(this.spec, name);
      if (kind === undefined) {
        if (trusted && name !== ID) continue;
        throw new TrapError(this.#messages.unknownParameter(name));
      }
      if (kind === 'text') continue;
      const text = value.toString('latin1');
      if (kind === 'bool') {
        if (text === 'yes' || text === 'true') input.set(name, TRUE);
        else if (text === 'no' || text === 'false') input.set(name, FALSE);
        else throw new TrapError(`input does not match any value of ${name}`, 1);
      } else if (isNameIn(kind)) {
        // Seeding lays rows down before the menus they name.
        if (!trusted && this.#menuAt(kind.nameIn)?.findBy('name', value) === undefined)
          throw new TrapError(`input does not match any value of ${name}`, 1);
      } else if (!kind.includes(text)) {
        throw new TrapError(`input does not match any value of ${name}`, 1);
      }
    }
    return input;
  }

  /** The unique key of a row, or undefined when the menu has none or a part is missing. */
  #key(row: Row): string | undefined {
    const unique = this.spec.unique;
    if (unique === undefined) return undefined;
    const parts: string[] = [];
    for (const name of unique) {
      const value = row.get(name);
      if (value === undefined) return undefined;
      parts.push(value.toString('latin1'));
    }
    return parts.join('\0');
  }

  #checkUnique(candidate: Row, self: Row | undefined): void {
    const key = this.#key(candidate);
    if (key === undefined) return;
    const other = this.#unique.get(key);
    if (other !== undefined && other !== self) throw this.#duplicate();
  }

  #duplicate(): TrapError {
    return new TrapError(this.spec.duplicateMessage ?? 'failure: already have such entry');
  }

  #index(row: Row, before: string | undefined): void {
    if (before !== undefined) this.#unique.delete(before);
    const key = this.#key(row);
    if (key !== undefined) this.#unique.set(key, row);
  }

  #emit(row: Row): void {
    if (this.#listeners.size === 0) return;
    const view = this.#view(row);
    for (const listener of [...this.#listeners]) listener(view);
  }

  #view(row: Row): Row {
    const copy = new Map(row);
    for (const name of this.#hidden) copy.delete(name);
    return this.spec.refresh === undefined ? copy : this.spec.refresh(copy);
  }
}

/** All menus of one simulated router, by path. */
export class Database {
  readonly #menus = new Map<string, Menu>();
  readonly #messages: MenuMessages;

  constructor(messages: MenuMessages = DEFAULT_MESSAGES) {
    this.#messages = messages;
  }

  /** Create a menu (replacing one with the same path). */
  define(spec: MenuSpec): Menu {
    const menu = new Menu(spec, this.#messages, (path) => this.#menus.get(path));
    this.#menus.set(spec.path, menu);
    return menu;
  }

  /** The menu at `path`, e.g. `/ip/hotspot/user`. */
  menu(path: string): Menu | undefined {
    return this.#menus.get(path);
  }

  /** The menu at `path`; throws when there is none (for seeding and tests). */
  require(path: string): Menu {
    const menu = this.#menus.get(path);
    if (menu === undefined) throw new RangeError(`no menu ${path}`);
    return menu;
  }

  /** Every menu path. */
  paths(): string[] {
    return [...this.#menus.keys()];
  }
}
