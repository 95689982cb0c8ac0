/**
 * `GET /monitoring/clients` lists the connected RouterOS API clients (as
 * PgBouncer's SHOW CLIENTS) and `DELETE /monitoring/clients` ends them by
 * hand: a removed user's sessions, a misbehaving panel. `?router=`,
 * `?source=`, `?user=` and `?id=` narrow both; ending needs at least one.
 * The clients and the ending come from functions `app.ts` gives, which also
 * writes the audit record.
 */
import { HttpProblem } from './http-reply.js';
import { queryFilter, sourceKey } from './query-filter.js';

/** One connected client of one router (from its session: `ClientSession.snapshot()`). */
export interface RouterClient {
  readonly router: string;
  /** The connection's id (`connId` in logs). */
  readonly id: number;
  readonly source: string;
  /** Absent before login. */
  readonly user?: string;
  readonly method?: string;
  /** When it connected, and logged in, in ms since epoch. */
  readonly connectedAtMs: number;
  readonly loggedInAtMs?: number;
  /** Commands since it logged in, and those running now. */
  readonly commands: number;
  readonly running: number;
}

/** Which clients: each field given must match; none given means all. */
export interface ClientFilter {
  readonly router?: string;
  readonly source?: string;
  readonly user?: string;
  readonly id?: number;
}

/** The clients, and how to end some of them; `address` is who asked (for the audit record). */
export interface ClientControl {
  list(): readonly RouterClient[];
  end(filter: ClientFilter, address: string | undefined): readonly RouterClient[];
}

const FILTER_KEYS = ['router', 'source', 'user', 'id'] as const;

/** The filter in a query string; a 400 for anything else. */
export function clientFilter(url: URL): ClientFilter {
  return queryFilter(url, FILTER_KEYS) as ClientFilter;
}

/** True when `client` matches every field `filter` gives. */
export function matchesClient(client: RouterClient, filter: ClientFilter): boolean {
  return (
    (filter.router === undefined || client.router === filter.router) &&
    (filter.source === undefined || sourceKey(client.source) === filter.source) &&
    (filter.user === undefined || client.user === filter.user) &&
    (filter.id === undefined || client.id === filter.id)
  );
}

/** A client as the admin port answers it: every field present, times as ISO 8601. */
function clientView(client: RouterClient) {
  return {
    router: client.router,
    id: client.id,
    source: sourceKey(client.source),
    user: client.user ?? null,
    method: client.method ?? null,
    connectedAt: new Date(client.connectedAtMs).toISOString(),
    loggedInAt:
      client.loggedInAtMs === undefined ? null : new Date(client.loggedInAtMs).toISOString(),
    commands: client.commands,
    running: client.running,
  };
}

/** `GET /monitoring/clients`: the connected clients that match the query. */
export function listClients(control: ClientControl | undefined, url: URL) {
  const filter = clientFilter(url);
  const shown = (control?.list() ?? []).filter((c) => matchesClient(c, filter)).map(clientView);
  return { clients: shown, count: shown.length };
}

/** `DELETE /monitoring/clients`: ends the clients that match the query, and says which. */
export function endClients(control: ClientControl | undefined, url: URL, address?: string) {
  if (control === undefined) throw new HttpProblem(404, 'path', 'clients cannot be ended here');
  const filter = clientFilter(url);
  if (Object.keys(filter).length === 0) {
    throw new HttpProblem(
      400,
      'query',
      'give router, source, user or id: every client at once is a drain (SIGTERM)',
    );
  }
  const ended = control.end(filter, address).map(clientView);
  return { ended, count: ended.length };
}
