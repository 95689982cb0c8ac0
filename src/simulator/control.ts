import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { RefuseConnections, SimulatorCounters, SimulatorFaults } from './context.js';
import { REFUSE_LISTEN_MODES, type RefuseListen } from './options.js';

/**
 * The control port: a small HTTP server for tools that run the simulator as
 * a separate process (benchmarks, manual tests).
 *
 * - `GET /counters` the counters as JSON
 * - `GET /faults` the fault switches as JSON
 * - `POST /faults` a JSON object with any of the switches to set them;
 *   answered once the API listens again after `refuseConnections: "refuse"`
 *   is cleared (500 when its port cannot be had back)
 * - `POST /drop` close every API connection
 */
export interface ControlTarget {
  readonly counters: Readonly<SimulatorCounters>;
  readonly faults: SimulatorFaults;
}

const MAX_BODY_BYTES = 64 * 1024;

const REFUSE_CONNECTIONS: readonly unknown[] = [false, true, 'close', 'refuse'];

/** The fault switches that are delays in ms. */
const LATENCY_SWITCHES: ReadonlySet<string> = new Set([
  'latencyMs',
  'rowLatencyMs',
  'latencyPer100RowsMs',
]);

/** The faults as plain JSON. */
export function faultsSnapshot(faults: SimulatorFaults): Record<string, boolean | number | string> {
  return {
    stopAnswering: faults.stopAnswering,
    latencyMs: faults.latencyMs,
    rowLatencyMs: faults.rowLatencyMs,
    latencyPer100RowsMs: faults.latencyPer100RowsMs,
    refuseConnections: faults.refuseConnections,
    refuseListen: faults.refuseListen,
  };
}

/** Check and apply a POST /faults body; returns the problems, none when applied. */
export function applyFaults(faults: SimulatorFaults, body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return ['body must be a JSON object'];
  const input = body as Record<string, unknown>;
  const problems: string[] = [];
  for (const [name, value] of Object.entries(input)) {
    if (name === 'stopAnswering') {
      if (typeof value !== 'boolean') problems.push(`${name} must be a boolean`);
    } else if (name === 'refuseConnections') {
      if (!REFUSE_CONNECTIONS.includes(value))
        problems.push("refuseConnections must be a boolean, 'close' or 'refuse'");
    } else if (name === 'refuseListen') {
      if (!(REFUSE_LISTEN_MODES as readonly unknown[]).includes(value))
        problems.push("refuseListen must be 'off', 'proplist' or 'always'");
    } else if (LATENCY_SWITCHES.has(name)) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 600_000) {
        problems.push(`${name} must be an integer 0-600000`);
      }
    } else {
      problems.push(`${name} is not a fault switch`);
    }
  }
  if (problems.length > 0) return problems;
  if (input.stopAnswering !== undefined) faults.stopAnswering = input.stopAnswering as boolean;
  if (input.refuseConnections !== undefined)
    faults.refuseConnections = input.refuseConnections as RefuseConnections;
  if (input.refuseListen !== undefined) faults.refuseListen = input.refuseListen as RefuseListen;
  if (input.latencyMs !== undefined) faults.latencyMs = input.latencyMs as number;
  if (input.rowLatencyMs !== undefined) faults.rowLatencyMs = input.rowLatencyMs as number;
  if (input.latencyPer100RowsMs !== undefined)
    faults.latencyPer100RowsMs = input.latencyPer100RowsMs as number;
  return [];
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () =>
      resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8')),
    );
  });
}

async function handle(
  target: ControlTarget,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  // A server request always has a method and a url.
  const route = `${req.method as string} ${(req.url as string).split('?')[0] as string}`;
  switch (route) {
    case 'GET /counters':
      reply(res, 200, target.counters);
      return;
    case 'GET /faults':
      reply(res, 200, faultsSnapshot(target.faults));
      return;
    case 'POST /drop':
      reply(res, 200, { dropped: target.faults.dropAll() });
      return;
    case 'POST /faults': {
      const text = await readBody(req);
      if (text === undefined) {
        reply(res, 413, { error: `body must be at most ${MAX_BODY_BYTES} bytes` });
        return;
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        reply(res, 400, { error: 'body must be JSON' });
        return;
      }
      const problems = applyFaults(target.faults, body);
      if (problems.length > 0) {
        reply(res, 400, { error: problems.join('; ') });
        return;
      }
      try {
        await target.faults.reopened();
      } catch (err) {
        reply(res, 500, { error: `the API could not listen again: ${(err as Error).message}` });
        return;
      }
      reply(res, 200, faultsSnapshot(target.faults));
      return;
    }
    default:
      reply(res, 404, { error: 'routes: GET /counters, GET /faults, POST /faults, POST /drop' });
  }
}

/** Start the control server on `host:port`; resolves once it listens. */
export async function startControlServer(
  target: ControlTarget,
  host: string,
  port: number,
): Promise<Server> {
  const server = createServer((req, res) => {
    void handle(target, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
