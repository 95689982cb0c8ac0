/**
 * Codec benchmark: the reply stream of `/ip/hotspot/user/print` for 5,000
 * voucher users (~1.3 MB of tagged `!re` rows and a `!done`), fed in 64 KiB
 * chunks through
 *   (a) rosgate's Decoder, doing per sentence what the proxy does: read the
 *       reply word and locate the `.tag` word (no per-word copies), and
 *   (b) node-routeros's own Receiver (the client rosgate fronts), which turns
 *       every word into a win1252 string and groups them per tag.
 *
 * Run: npm run bench -- codec [--seconds=N]
 */
import { createRequire } from 'node:module';
import { Decoder } from '../src/protocol/decoder.js';
import { encodeSentences, type WordInput } from '../src/protocol/encoder.js';
import type { Sentence } from '../src/protocol/sentence.js';
import type { BenchResult } from './run.js';
import { Prng } from '../src/simulator/prng.js';

const USERS = 5000;
const CHUNK_BYTES = 64 * 1024;
/** A tag as node-routeros makes them: Math.random().toString(36).substring(3). */
const TAG = 'k3j9x0a1q';

/** Deterministic PRNG (the simulator's mulberry32) so every run benches the same bytes. */
function prng(seed: number): () => number {
  const random = new Prng(seed);
  return () => random.next();
}

/** The reply stream of a print of `users` hotspot users, tagged like node-routeros. */
export function hotspotPrintReply(users: number): Buffer {
  const random = prng(0x5eed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const int = (max: number): number => Math.floor(random() * max);
  const code = (n: number): string => {
    const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[int(alphabet.length)];
    return s;
  };
  const profiles = ['1hour-5k', '3hours-10k', '1day-20k', '7days-50k', '30days-150k'];
  const uptimes = ['1h', '3h', '1d', '7d', '30d'];
  const sentences: WordInput[][] = [];
  for (let i = 0; i < users; i++) {
    const p = int(profiles.length);
    const used = random() < 0.6;
    const price = [5000, 10000, 20000, 50000, 150000][p] as number;
    sentences.push([
      '!re',
      `.tag=${TAG}`,
      `=.id=*${(0x1a00 + i).toString(16).toUpperCase()}`,
      '=server=all',
      `=name=${code(8)}`,
      `=password=${String(int(1_000_000)).padStart(6, '0')}`,
      `=profile=${profiles[p]}`,
      `=limit-uptime=${uptimes[p]}`,
      '=limit-bytes-total=0',
      `=comment=VOUCHER_SYSTEM|${price}|${uptimes[p]}|2024-0${1 + int(9)}-1${int(10)} 1${int(10)}:${10 + int(50)}:${10 + int(50)}|batch-${int(100)}|${pick(['cashier1', 'cashier2', 'online', 'admin'])}`,
      `=uptime=${used ? `${int(24)}h${int(60)}m${int(60)}s` : '0s'}`,
      `=bytes-in=${used ? int(900_000_000) : 0}`,
      `=bytes-out=${used ? int(90_000_000) : 0}`,
      '=dynamic=false',
      `=disabled=${random() < 0.05 ? 'true' : 'false'}`,
    ]);
  }
  sentences.push(['!done', `.tag=${TAG}`]);
  return encodeSentences(sentences);
}

function chunk(stream: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < stream.length; at += size) out.push(stream.subarray(at, at + size));
  return out;
}

/** What the proxy does per reply sentence; returns a value so nothing is dead code. */
function rosgatePass(chunks: readonly Buffer[]): { sentences: number; check: number } {
  const decoder = new Decoder();
  let sentences = 0;
  let check = 0;
  const onSentence = (s: Sentence): void => {
    sentences++;
    // Reply word (to route !re / !done / !trap) and the tag word to rewrite.
    check += s.command.length + s.tagIndex;
  };
  for (const c of chunks) decoder.push(c, onSentence);
  return { sentences, check };
}

interface NodeRouterosReceiver {
  read(tag: string, callback: (packet: string[]) => void): void;
  processRawData(data: Buffer): void;
}
type ReceiverClass = new (socket: { emit(event: string): void }) => NodeRouterosReceiver;

const require = createRequire(import.meta.url);
const { Receiver } = require('node-routeros/dist/connector/Receiver.js') as {
  Receiver: ReceiverClass;
};

function nodeRouterosPass(chunks: readonly Buffer[]): { sentences: number; check: number } {
  const receiver = new Receiver({ emit: () => undefined });
  let sentences = 0;
  let check = 0;
  receiver.read(TAG, (packet) => {
    sentences++;
    check += (packet[0] as string).length + packet.length;
  });
  for (const c of chunks) receiver.processRawData(c);
  return { sentences, check };
}

interface Measurement {
  mbps: number;
  sentencesPerSec: number;
  iterations: number;
}

function measure(pass: () => { sentences: number }, bytes: number, seconds: number): Measurement {
  // Warm up: let the JIT settle before timing.
  const warmEnd = performance.now() + Math.min(1000, seconds * 300);
  while (performance.now() < warmEnd) pass();
  // Timed rounds; report the median round to damp GC and scheduler noise.
  const rounds: number[] = [];
  let iterations = 0;
  let sentences = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end || rounds.length < 5) {
    const start = performance.now();
    let n = 0;
    do {
      sentences = pass().sentences;
      n++;
    } while (performance.now() - start < 100);
    rounds.push((performance.now() - start) / n);
    iterations += n;
  }
  rounds.sort((a, b) => a - b);
  const msPerPass = rounds[rounds.length >> 1] as number;
  return {
    mbps: bytes / 1e6 / (msPerPass / 1000),
    sentencesPerSec: sentences / (msPerPass / 1000),
    iterations,
  };
}

const round = (n: number, digits = 1): number => Number(n.toFixed(digits));

export async function run(args: readonly string[]): Promise<BenchResult> {
  const secondsArg = args.find((a) => a.startsWith('--seconds='));
  const seconds = secondsArg === undefined ? 3 : Number(secondsArg.slice('--seconds='.length));
  const stream = hotspotPrintReply(USERS);
  const chunks = chunk(stream, CHUNK_BYTES);

  // Both decoders must agree on what they saw before we time them.
  const a = rosgatePass(chunks);
  const b = nodeRouterosPass(chunks);
  if (a.sentences !== USERS + 1 || b.sentences !== USERS + 1) {
    throw new Error(
      `decoders disagree: rosgate ${a.sentences}, node-routeros ${b.sentences}, expected ${USERS + 1}`,
    );
  }

  console.log(
    `codec: ${USERS} hotspot users, ${stream.length} bytes (${round(stream.length / 1e6, 2)} MB), ` +
      `${chunks.length} chunks of ${CHUNK_BYTES} bytes, ${seconds}s per decoder (MB = 10^6 bytes)`,
  );
  const rosgate = measure(() => rosgatePass(chunks), stream.length, seconds);
  console.log(
    `rosgate Decoder      ${round(rosgate.mbps).toString().padStart(8)} MB/s ${Math.round(rosgate.sentencesPerSec).toString().padStart(10)} sentences/s (${rosgate.iterations} passes)`,
  );
  const nodeRouteros = measure(() => nodeRouterosPass(chunks), stream.length, seconds);
  console.log(
    `node-routeros Receiver ${round(nodeRouteros.mbps).toString().padStart(6)} MB/s ${Math.round(nodeRouteros.sentencesPerSec).toString().padStart(10)} sentences/s (${nodeRouteros.iterations} passes)`,
  );
  const ratio = rosgate.mbps / nodeRouteros.mbps;
  console.log(`ratio ${round(ratio)}x`);
  return {
    bench: 'codec',
    rosgateMBps: round(rosgate.mbps),
    rosgateSentencesPerSec: Math.round(rosgate.sentencesPerSec),
    nodeRouterosMBps: round(nodeRouteros.mbps),
    nodeRouterosSentencesPerSec: Math.round(nodeRouteros.sentencesPerSec),
    ratio: round(ratio),
  };
}
