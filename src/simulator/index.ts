import type { AddressInfo } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import {
  createCounters,
  type RefuseConnections,
  type SimulatorContext,
  type SimulatorCounters,
  type SimulatorFaults,
} from './context.js';
import { startControlServer } from './control.js';
import type { Database } from './database.js';
import { resolveOptions, type SimulatorOptions } from './options.js';
import { Prng } from './prng.js';
import { seedDatabase } from './seed.js';
import { createApiServer } from './server.js';
import { versionProfile } from './version.js';

export type {
  SimulatorOptions,
  SimulatorTimers,
  TooManySessionsAction,
  CancelUnknownTagReply,
  TagPosition,
  RefuseListen,
} from './options.js';
export type { RefuseConnections, SimulatorCounters, SimulatorFaults } from './context.js';
export {
  Database,
  Menu,
  TrapError,
  type Row,
  type MenuSpec,
  type InputValues,
} from './database.js';
export { compileQuery, type QueryPredicate, type PropertyReader } from './query.js';
export { versionProfile, LoginMode, type VersionProfile } from './version.js';

/** A running RouterOS API simulator. */
export interface Simulator {
  /** Address the API listens on. */
  readonly host: string;
  /** Port the API listens on. */
  readonly port: number;
  /** Port of the HTTP control server, when one was asked for. */
  readonly controlPort: number | undefined;
  /** The RouterOS version it imitates. */
  readonly version: string;
  /** Live counters (read them; do not write). */
  readonly counters: Readonly<SimulatorCounters>;
  /**
   * Fault switches, changeable at any time ({@link SimulatorFaults}):
   * `refuseConnections` `'close'` (or true) accepts and closes, `'refuse'`
   * stops listening (ECONNREFUSED) until cleared; `stopAnswering` stalls each
   * connection, which works through its backlog (up to `maxBacklogBytes`)
   * once it is cleared.
   */
  readonly faults: SimulatorFaults;
  /** The menus and their rows, to seed and inspect. */
  readonly data: Database;
  /** Streaming commands running now; 0 once every client has gone. */
  activeStreams(): number;
  /** Close every connection and stop listening. */
  close(): Promise<void>;
}

function closeServer(server: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
  });
}

/** Start a simulator; resolves once it listens. Options are checked first (RosgateError ROSGATE_CONFIG). */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const resolved = resolveOptions(options);
  const base = versionProfile(resolved.version);
  const profile = { ...base, emptyReplies: resolved.emptyReplies ?? base.emptyReplies };
  const db = seedDatabase({
    seed: resolved.seed,
    version: resolved.version,
    user: resolved.user,
    password: resolved.password,
    users: resolved.users,
    interfaces: resolved.interfaces,
    hotspotUsers: resolved.hotspotUsers,
    pppSecrets: resolved.pppSecrets,
    now: resolved.now,
    messages: {
      unknownParameter: resolved.unknownParameterMessage,
      noSuchItem: resolved.noSuchItemMessage,
    },
  });
  const counters = createCounters();
  let isStopped = false;
  let refuseConnections: RefuseConnections = false;
  let reopening = Promise.resolve();
  // `api` is created below; the accessors and dropAll are only ever called after that.
  const faults: SimulatorFaults = {
    get stopAnswering() {
      return isStopped;
    },
    set stopAnswering(isOn) {
      isStopped = isOn;
      if (!isOn) api.resumeAnswering();
    },
    latencyMs: resolved.latencyMs,
    rowLatencyMs: resolved.rowLatencyMs,
    latencyPer100RowsMs: resolved.latencyPer100RowsMs,
    get refuseConnections() {
      return refuseConnections;
    },
    set refuseConnections(mode) {
      refuseConnections = mode;
      reopening = api.setListening(mode !== 'refuse');
      // Told by reopened() to whoever set it (every set meanwhile shares
      // this attempt); then the fault says what holds, no listener, and a
      // later change is not refused for it.
      reopening.catch(() => {
        refuseConnections = 'refuse';
        reopening = Promise.resolve();
      });
    },
    refuseListen: resolved.refuseListen,
    dropAll: () => api.dropAll(),
    reopened: () => reopening,
  };
  const ctx: SimulatorContext = {
    options: resolved,
    profile,
    db,
    counters,
    faults,
    live: new Prng(resolved.seed + 1),
  };
  const api = createApiServer(ctx);
  await api.listen(resolved.port, resolved.host);
  let control: HttpServer | undefined;
  if (resolved.controlPort !== undefined) {
    try {
      control = await startControlServer({ counters, faults }, '127.0.0.1', resolved.controlPort);
    } catch (err) {
      await api.close();
      throw err;
    }
  }
  return {
    host: resolved.host,
    port: (api.server.address() as AddressInfo).port,
    controlPort: control === undefined ? undefined : (control.address() as AddressInfo).port,
    version: resolved.version,
    counters,
    faults,
    data: db,
    activeStreams: () => counters.streamsNow,
    close: async () => {
      const closing = [api.close()];
      if (control !== undefined) {
        control.closeAllConnections();
        closing.push(closeServer(control));
      }
      await Promise.all(closing);
    },
  };
}
