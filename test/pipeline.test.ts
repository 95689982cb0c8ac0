import t from 'tap';
import { Sentence } from '../src/protocol/index.js';
import { ErrorCode, RosgateError } from '../src/errors.js';
import {
  SETTLED,
  SinkDecorator,
  compose,
  createPipeline,
  describeCommand,
  type CommandContext,
  type CommandHandler,
  type CommandOutcome,
  type CommandSink,
  type Stage,
} from '../src/pipeline.js';

// The pipeline owns the links between stages: a stage is given a link to
// what follows it in the chain in force, never that handler itself.

const context = {
  router: 'default',
  user: 'admin',
  clientId: 1,
  address: '127.0.0.1',
  ...describeCommand(Sentence.from(['/ip/address/print'])),
  receivedAt: 0,
  notes: {},
} satisfies CommandContext;

const sink: CommandSink = { reply() {}, done() {}, refuse() {} };

/** A handler that records its name into `seen`. */
function named(name: string, seen: string[]): CommandHandler {
  return {
    handle() {
      seen.push(name);
      return SETTLED;
    },
  };
}

/** A stage that notes its name and passes on. */
function passing(name: string, seen: string[]): Stage {
  return (next) => ({
    handle(c, s) {
      seen.push(name);
      return next.handle(c, s);
    },
  });
}

t.test('a stage that keeps its first next follows the chain rebuilt after it', async (t) => {
  const seen: string[] = [];
  let kept: CommandHandler | undefined;
  // Like the cache: it keeps the `next` of its first build for later commands.
  const keeping: Stage = (next) => {
    kept ??= next;
    return { handle: (c, s) => (kept as CommandHandler).handle(c, s) };
  };
  const pipeline = createPipeline([keeping, passing('old flow', seen)], named('router', seen));
  pipeline.handle(context, sink);
  t.same(seen, ['old flow', 'router']);

  seen.length = 0;
  pipeline.rebuild([keeping, passing('new flow', seen)]);
  pipeline.handle(context, sink);
  t.same(seen, ['new flow', 'router'], 'the retired stage is never reached again');
  kept?.handle(context, sink);
  t.same(
    seen,
    ['new flow', 'router', 'new flow', 'router'],
    'even through the link kept outside a command',
  );
});

t.test('new commands take the rebuilt stages, outermost first', async (t) => {
  const seen: string[] = [];
  const pipeline = createPipeline([passing('a', seen), passing('b', seen)], named('inner', seen));
  pipeline.handle(context, sink);
  pipeline.rebuild([passing('c', seen), passing('d', seen)]);
  pipeline.handle(context, sink);
  t.same(seen, ['a', 'b', 'inner', 'c', 'd', 'inner']);
});

t.test('a stage that passes commands straight on is allowed', async (t) => {
  const seen: string[] = [];
  const pipeline = createPipeline([(next) => next], named('inner', seen));
  pipeline.handle(context, sink);
  t.same(seen, ['inner']);
});

t.test('a rebuild must keep the number of stages', async (t) => {
  const seen: string[] = [];
  const pipeline = createPipeline([passing('a', seen)], named('inner', seen));
  t.throws(() => pipeline.rebuild([]), {
    code: 'ROSGATE_INTERNAL',
    message: 'a pipeline of 1 stages was rebuilt with 0',
  });
  pipeline.handle(context, sink);
  t.same(seen, ['a', 'inner'], 'the chain in force is kept');
});

t.test('compose gives stages links too', async (t) => {
  const seen: string[] = [];
  const given: CommandHandler[] = [];
  const inner = named('inner', seen);
  const handler = compose(
    [
      (next) => {
        given.push(next);
        return next;
      },
    ],
    inner,
  );
  handler.handle(context, sink);
  t.not(given[0], inner, 'the stage got a link, not the inner handler');
  t.same(seen, ['inner']);
});

/** A sink that records what reaches it, by call. */
function recordingSink(): CommandSink & { readonly calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    reply: (sentence) => calls.push(`reply ${sentence.command}`),
    done: () => calls.push('done'),
    refuse: (error) => calls.push(`refuse ${error.code}`),
  };
}

const RE = Sentence.from(['!re', '=name=a']);
const DONE_SENTENCE = Sentence.from(['!done']);

t.test('a sink decorator sees replies and the end once, before passing them on', async (t) => {
  const inner = recordingSink();
  const seen: string[] = [];
  const dropped: string[] = [];
  const wrapped = new SinkDecorator(inner, {
    onReply: (sentence) => seen.push(`${sentence.command} (passed on: ${inner.calls.length})`),
    onEnd: (outcome) => seen.push(`${outcome.type} (passed on: ${inner.calls.length})`),
    onDropped: (call) => dropped.push(call),
  });
  t.notOk(wrapped.isEnded);
  wrapped.reply(RE);
  wrapped.done(DONE_SENTENCE);
  t.ok(wrapped.isEnded);
  wrapped.reply(RE);
  wrapped.done(DONE_SENTENCE);
  wrapped.refuse(new RosgateError(ErrorCode.Internal, 'late'));
  t.same(seen, ['!re (passed on: 0)', 'done (passed on: 1)']);
  t.same(inner.calls, ['reply !re', 'done'], 'nothing after the end reaches the sink');
  t.same(dropped, ['reply', 'done', 'refuse']);
  t.equal(wrapped.dropped, 3);
});

t.test('a refusal is an end too; a decorator without hooks only passes on', async (t) => {
  const inner = recordingSink();
  const outcomes: CommandOutcome[] = [];
  const error = new RosgateError(ErrorCode.RateLimited, 'slow down');
  const wrapped = new SinkDecorator(inner, { onEnd: (outcome) => outcomes.push(outcome) });
  wrapped.refuse(error);
  wrapped.done(DONE_SENTENCE);
  t.same(outcomes, [{ type: 'refused', error }]);
  t.same(inner.calls, ['refuse ROSGATE_RATE_LIMITED']);
  const plain = recordingSink();
  const bare = new SinkDecorator(plain);
  bare.reply(RE);
  bare.refuse(error);
  bare.reply(RE);
  t.same(plain.calls, ['reply !re', 'refuse ROSGATE_RATE_LIMITED']);
  t.equal(bare.dropped, 1);
});

t.test('a hook that throws still lets the sentence through, then throws', async (t) => {
  const inner = recordingSink();
  const wrapped = new SinkDecorator(inner, {
    onReply: () => {
      throw new Error('reply hook');
    },
    onEnd: () => {
      throw new Error('end hook');
    },
  });
  t.throws(() => wrapped.reply(RE), { message: 'reply hook' });
  t.throws(() => wrapped.done(DONE_SENTENCE), { message: 'end hook' });
  t.same(inner.calls, ['reply !re', 'done']);
  t.ok(wrapped.isEnded, 'the end counts even when its hook threw');
});

t.test('a stage may extend the decorator instead of giving hooks', async (t) => {
  const inner = recordingSink();
  class RowCounter extends SinkDecorator {
    rows = 0;
    ended: string | undefined;
    protected override onReply(): void {
      this.rows++;
    }
    protected override onEnd(outcome: CommandOutcome): void {
      this.ended = outcome.type;
    }
  }
  const counter = new RowCounter(inner);
  counter.reply(RE);
  counter.reply(RE);
  counter.done(DONE_SENTENCE);
  t.equal(counter.rows, 2);
  t.equal(counter.ended, 'done');
});

t.test(
  'a stage that is off is stepped over, and its link still follows the chain rebuilt',
  async (t) => {
    const seen: string[] = [];
    let kept: CommandHandler | undefined;
    const off: Stage = (next) => {
      kept ??= next;
      return next;
    };
    const pipeline = createPipeline([off, passing('old flow', seen)], named('router', seen));
    pipeline.handle(context, sink);
    pipeline.rebuild([passing('on', seen), passing('new flow', seen)]);
    pipeline.handle(context, sink);
    kept?.handle(context, sink);
    t.same(seen, ['old flow', 'router', 'on', 'new flow', 'router', 'new flow', 'router']);
  },
);
