import t from 'tap';
import { Sentence } from '../src/protocol/index.js';
import {
  SETTLED,
  compose,
  createPipeline,
  describeCommand,
  type CommandContext,
  type CommandHandler,
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
