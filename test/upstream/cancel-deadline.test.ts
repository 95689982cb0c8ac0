import t from 'tap';
import { ErrorCode, type RosgateError } from '../../src/errors.js';
import { Sentence } from '../../src/protocol/index.js';
import { UpstreamConnection } from '../../src/upstream/upstream-connection.js';
import { fakeRouter, tagOf } from '../fixtures/fake-router.js';

t.test(
  'a command whose cancel the router never confirms is given up after the timeout',
  async (t) => {
    // A router that logs in and answers probes, but swallows one print and
    // every /cancel: a lost reply on a session that is otherwise alive.
    const port = await fakeRouter(t, (sentence, reply) => {
      const command = sentence.command;
      if (command === '/login') reply('!done', tagOf(sentence));
      else if (command === '/system/identity/print') {
        reply('!re', '=name=r', tagOf(sentence));
        reply('!done', tagOf(sentence));
      }
    });
    const up = new UpstreamConnection({
      host: '127.0.0.1',
      port,
      username: 'svc',
      password: 'pw',
      timeoutMs: 400,
    });
    await up.connect();
    t.teardown(() => up.close());
    let error: RosgateError | undefined;
    let replies = 0;
    const tag = up.send(Sentence.from(['/ip/hotspot/user/print']), {
      onReply: () => replies++,
      onError: (err) => {
        error = err;
      },
    });
    t.equal(up.inFlight, 1);
    let isAnswered = false;
    await new Promise<void>((resolve) =>
      up.cancel(tag, () => {
        isAnswered = true;
        resolve();
      }),
    );
    t.equal(isAnswered, true, 'the cancel counts as answered once it is given up');
    t.equal(error?.code, ErrorCode.UpstreamTimeout, 'the command ends with a timeout');
    t.match(error?.message, /did not confirm the cancel/);
    t.equal(up.inFlight, 0, 'it no longer holds a place on the session');
    t.equal(replies, 0);
    t.equal(up.state, 'ready', 'the session itself goes on');
    const rows: string[] = [];
    await new Promise<void>((resolve, reject) =>
      up.send(Sentence.from(['/system/identity/print']), {
        onReply: (s, isFinal) => {
          rows.push(s.command);
          if (isFinal) resolve();
        },
        onError: reject,
      }),
    );
    t.same(rows, ['!re', '!done'], 'and carries the next command');
  },
);
