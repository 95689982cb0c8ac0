/** Counters of the policy stage, per router: what the metrics and the admin port read. */

/** How the policy decided a command: `flag` is allowed with a flag raised. */
export type Verdict = 'allow' | 'deny' | 'audit' | 'flag';

/** How often one rule gave one verdict. */
export interface DecisionCount {
  /** An access rule, `input:<rule>`, `script-escalation`, or a flag reason that refused. */
  readonly rule: string;
  readonly verdict: Verdict;
  readonly count: number;
}

/** One router's counters (the shape the admin port's `PolicySnapshot` reads). */
export interface RouterPolicyStats {
  /** Commands each access rule matched: the rules' hit counters. */
  readonly hits: Readonly<Record<string, number>>;
  /** Commands by the rule that decided them and the verdict. */
  readonly decisions: readonly DecisionCount[];
  /** Values that broke an input rule. */
  readonly inputFailures: number;
  /** The same, by input rule (`mac-address`, `max-length`). */
  readonly inputFailuresByRule: Readonly<Record<string, number>>;
  /** Commands flagged, by reason (`script-syntax`, `xss`, `sql-injection`). */
  readonly flags: Readonly<Record<string, number>>;
  /** Addresses and users locked out after failed logins. */
  readonly lockouts: number;
}

/** Every router's counters, by router name. */
export interface PolicyStats {
  readonly routers: Readonly<Record<string, RouterPolicyStats>>;
}

/** Maps inside, so a rule named `__proto__` is only a name. */
interface RouterCounters {
  readonly hits: Map<string, number>;
  readonly decisions: Map<string, Map<Verdict, number>>;
  readonly inputFailures: Map<string, number>;
  readonly flags: Map<string, number>;
  lockouts: number;
}

function bump<K>(counts: Map<K, number>, key: K): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function copy(c: RouterCounters): RouterPolicyStats {
  let inputFailures = 0;
  for (const count of c.inputFailures.values()) inputFailures += count;
  return {
    hits: Object.fromEntries(c.hits),
    decisions: [...c.decisions].flatMap(([rule, byVerdict]) =>
      [...byVerdict].map(([verdict, count]) => ({ rule, verdict, count })),
    ),
    inputFailures,
    inputFailuresByRule: Object.fromEntries(c.inputFailures),
    flags: Object.fromEntries(c.flags),
    lockouts: c.lockouts,
  };
}

/** The stage's counters; read with `snapshot()`. */
export class PolicyCounters {
  readonly #routers = new Map<string, RouterCounters>();

  hit(router: string, rule: string): void {
    bump(this.#router(router).hits, rule);
  }

  decided(router: string, rule: string, verdict: Verdict): void {
    const decisions = this.#router(router).decisions;
    let byVerdict = decisions.get(rule);
    if (byVerdict === undefined) {
      byVerdict = new Map();
      decisions.set(rule, byVerdict);
    }
    bump(byVerdict, verdict);
  }

  inputFailed(router: string, rule: string): void {
    bump(this.#router(router).inputFailures, rule);
  }

  flagged(router: string, reason: string): void {
    bump(this.#router(router).flags, reason);
  }

  lockedOut(router: string): void {
    this.#router(router).lockouts++;
  }

  /** A copy: later commands do not change it. */
  snapshot(): PolicyStats {
    const routers = [...this.#routers].map(([name, c]) => [name, copy(c)] as const);
    return { routers: Object.fromEntries(routers) };
  }

  /** One router's counters; zeros for a router not seen yet. */
  routerSnapshot(router: string): RouterPolicyStats {
    return copy(this.#router(router));
  }

  #router(name: string): RouterCounters {
    let counters = this.#routers.get(name);
    if (counters === undefined) {
      counters = {
        hits: new Map(),
        decisions: new Map(),
        inputFailures: new Map(),
        flags: new Map(),
        lockouts: 0,
      };
      this.#routers.set(name, counters);
    }
    return counters;
  }
}
