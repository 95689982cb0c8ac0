import * as fsPromises from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';

/**
 * The real FileAppender over a file system whose writes can be made to
 * fail: a disk that fills up, a volume that goes read-only.
 */
async function failingAppender(t: Test) {
  const disk = { isFull: false, syncs: 0 };
  const { FileAppender } = await t.mockImport<typeof import('../../src/audit/file-appender.js')>(
    '../../src/audit/file-appender.js',
    {
      'node:fs/promises': {
        ...fsPromises,
        open: async (...args: Parameters<typeof fsPromises.open>) => {
          const handle = await fsPromises.open(...args);
          return Object.assign(Object.create(handle) as fsPromises.FileHandle, {
            write: (...w: Parameters<fsPromises.FileHandle['write']>) => {
              if (disk.isFull) return Promise.reject(new Error('ENOSPC: no space left on device'));
              return handle.write(...w);
            },
            sync: () => {
              disk.syncs++;
              return handle.sync();
            },
            stat: () => handle.stat(),
            close: () => handle.close(),
          });
        },
      },
    },
  );
  return { appender: new FileAppender(), disk };
}

t.test('a failed append still syncs what earlier appends left unsynced', async (t) => {
  const dir = t.testdir();
  const { appender, disk } = await failingAppender(t);
  const file = join(dir, 'audit.jsonl');
  await appender.append(file, Buffer.from('one\n'), false);
  await appender.append(file, Buffer.from('two\n'), false);
  t.equal(disk.syncs, 0, 'written, not synced yet');
  disk.isFull = true;
  await t.rejects(appender.append(file, Buffer.from('three\n'), false), /ENOSPC/);
  t.equal(disk.syncs, 1, 'the earlier batches went to the disk before the file was let go');
  t.equal(readFileSync(file, 'utf8'), 'one\ntwo\n');
  disk.isFull = false;
  await appender.append(file, Buffer.from('three\n'));
  t.equal(readFileSync(file, 'utf8'), 'one\ntwo\nthree\n', 'the next append reopens the file');
  await appender.close();
});
