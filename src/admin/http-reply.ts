/**
 * Small HTTP helpers for the admin port: JSON answers, a bounded JSON body
 * reader, and the problem an endpoint throws to answer 4xx.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Headers every admin answer carries: nothing is cached, nothing sniffed. */
const COMMON_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
} as const;

/** A 4xx answer `{ error, field }`: what is wrong, and which input it is about. */
export class HttpProblem extends Error {
  readonly status: number;
  readonly field: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    field: string,
    message: string,
    headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpProblem';
    this.status = status;
    this.field = field;
    this.headers = headers;
  }
}

/** Writes one answer, unless the client is already gone. */
export function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    ...COMMON_HEADERS,
    'content-type': contentType,
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
  });
  res.end(body);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`, headers);
}

/**
 * The request's JSON body, at most `maxBytes`. Throws an HttpProblem: 415
 * when it is not JSON, 413 when too large (the connection is then closed,
 * so the rest is never read), 400 when it does not parse.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
    throw new HttpProblem(415, 'content-type', 'the body must be application/json');
  }
  const tooLarge = new HttpProblem(413, 'body', `the body must be at most ${maxBytes} bytes`, {
    connection: 'close',
  });
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) throw tooLarge;
  const chunks: Buffer[] = [];
  let size = 0;
  // Stop reading at the bound but keep the socket: the 413 must still go out.
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge;
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new HttpProblem(400, 'body', 'the body is not valid JSON');
  }
}
