import t from 'tap';
import { Writable } from 'node:stream';
import { createLogger, routerLogger } from '../src/logger.js';
import { parseStrictJson } from './fixtures/strict-json.js';

function capture(): { lines: string[]; sink: Writable } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(
        ...chunk
          .toString()
          .split('\n')
          .filter((l) => l !== ''),
      );
      done();
    },
  });
  return { lines, sink };
}

t.test('routerLogger binds the router once, however often it is asked', async (t) => {
  const { lines, sink } = capture();
  const root = createLogger('info', sink);
  const bound = routerLogger(root, 'r1');
  t.not(bound, root, 'a root logger gets a child');
  t.equal(routerLogger(bound, 'r1'), bound, 'a logger bound to the router is used as it is');
  routerLogger(routerLogger(bound, 'r1'), 'r1').info('hello');
  t.same(parseStrictJson(lines[0] as string), {
    ...(JSON.parse(lines[0] as string) as object),
    router: 'r1',
  });
});
