/**
 * A client's own tag words never reach the shared router session: every
 * sentence rosgate sends upstream carries exactly one `.tag` word, its own
 * (docs/routeros-api.md §4 proxy rule 1). Against a router that answers on the
 * last of several tags, a client that adds another client's upstream tag
 * still gets only its own replies, and so does the other client.
 */
import t from 'tap';
import type { Sentence } from '../../src/protocol/index.js';
import { eventually } from '../fixtures/eventually.js';
import { openRaw, text } from '../fixtures/raw-client.js';
import { recordingRelay } from '../fixtures/recording-relay.js';
import { startStack } from '../fixtures/stack.js';
import { startSimulator } from '../../src/simulator/index.js';

function tagWords(sentence: Sentence): string[] {
  return sentence.words
    .map((word) => word.toString('latin1'))
    .filter((word) => word === '.tag' || word.startsWith('.tag='));
}

t.test(
  "two clients stay apart when one sends a second .tag naming the other one's upstream tag",
  async (t) => {
    const sim = await startSimulator({
      user: 'admin',
      password: 'secret',
      version: '7.17',
      duplicateTags: 'last',
    });
    t.teardown(() => sim.close());
    const relay = await recordingRelay(t, sim.port);
    const stack = await startStack(t, {
      simulator: sim,
      router: { port: relay.port, pool: { min: 1, max: 1 } },
      config: { cache: { enabled: false } },
    });
    const a = await openRaw(t, stack.port, { user: 'admin', password: 'secret' });
    const b = await openRaw(t, stack.port, { user: 'admin', password: 'secret' });

    a.send(['/interface/monitor-traffic', '=interface=ether1', '.tag=x']);
    const upstreamA = await eventually(
      () => relay.sent.find((s) => s.command === '/interface/monitor-traffic'),
      { until: (s) => s !== undefined, what: "A's stream upstream" },
    );
    const upTag = upstreamA?.tagString as string;

    const bReplies = await b.call(['/system/identity/print', '.tag=y', `.tag=${upTag}`, '.tag']);
    t.same(
      text(bReplies).map((line) => line.replace(/=name=\S+/, '=name=…')),
      ['!re .tag=y =name=…', '!done .tag=y'],
      'B gets its own reply on its first tag',
    );
    const bare = await b.call(['/system/identity/print', '.tag']);
    t.notOk(
      text(bare).some((line) => line.includes('.tag')),
      'a bare .tag counts as no tag: the reply is untagged',
    );

    const cancel = await a.call(['/cancel', '=tag=x', '.tag=c']);
    t.ok(text(cancel).includes('!done .tag=c'), 'A cancels its stream');
    const aReplies = text(await a.untilDone('x'));
    t.notOk(
      aReplies.some((line) => line.includes('identity') || !line.includes('.tag=x')),
      `A sees only its own stream: ${aReplies.join(' | ')}`,
    );
    t.match(aReplies.at(-1), /^!done/, "A's stream ends with its own !done");

    const printed = relay.sent.filter((s) => s.command === '/system/identity/print');
    t.equal(printed.length, 2, 'both prints reached the router');
    for (const sentence of relay.sent) {
      if (sentence.command === '/login') continue;
      t.equal(tagWords(sentence).length, 1, `one tag word upstream: ${String(sentence)}`);
    }
  },
);
