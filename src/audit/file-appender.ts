import { open, rename, stat, type FileHandle } from 'node:fs/promises';

/** Where the file an appender holds open stands against its path. */
export type LiveFileState =
  /** The path still names the open file (or nothing is held for it). */
  | { readonly state: 'same' }
  /** Nothing is at the path: `rm`, or a rename (logrotate without copytruncate). */
  | { readonly state: 'removed' }
  /** Another file is at the path (`sed -i`, an editor, logrotate's `create`); `bytes` is its size. */
  | { readonly state: 'replaced'; readonly bytes: number };

/**
 * The disk, as the audit writer uses it. A seam so tests can stand in a
 * slow or failing disk.
 */
export interface AuditAppender {
  /**
   * Appends `data` to `path` (another path closes the file held before).
   * Resolves once the bytes are in the file, where a crash of rosgate cannot
   * lose them, and with `sync` (the default) once they are on the disk
   * (fsync), where a crash of the host cannot either.
   */
  append(path: string, data: Buffer, sync?: boolean): Promise<void>;
  /** Syncs (fsync) what was appended without `sync` to the file held open. */
  sync(): Promise<void>;
  /** Replaces `path` with `data` atomically: written beside it, then renamed. */
  replace(path: string, data: string): Promise<void>;
  /**
   * Compares the file held open for `path` with what the path names now
   * (device and inode): a file replaced or removed on disk would otherwise
   * take every later record out of sight.
   */
  check(path: string): Promise<LiveFileState>;
  /**
   * Appends the whole of the file held open (readable even once unlinked)
   * to `to`, synced, and lets go of it; resolves with the bytes copied.
   */
  salvage(to: string): Promise<number>;
  /** Syncs what is not on the disk yet and closes what is open. */
  close(): Promise<void>;
}

const COPY_BYTES = 1 << 20;

/** Appends with fsync, keeping the current file open between flushes. */
export class FileAppender implements AuditAppender {
  #path: string | undefined;
  #handle: FileHandle | undefined;
  /** Device and inode of the held file. */
  #id: { dev: number; ino: number } | undefined;
  /** Bytes were appended to the held file since its last fsync. */
  #isUnsynced = false;

  async append(path: string, data: Buffer, sync = true): Promise<void> {
    try {
      let handle = this.#path === path ? this.#handle : undefined;
      if (handle === undefined) {
        await this.close();
        // a+: appends, and can still be read (salvage) once the path is gone.
        handle = await open(path, 'a+');
        this.#handle = handle;
        this.#path = path;
        const { dev, ino } = await handle.stat();
        this.#id = { dev, ino };
      }
      // One write call (a+ appends), not appendFile's chunked loop of them.
      for (let at = 0; at < data.length;) {
        at += (await handle.write(data, at, data.length - at)).bytesWritten;
      }
      this.#isUnsynced = true;
      if (sync) await this.sync();
    } catch (err) {
      // Reopen on the next append rather than write after a failure; what
      // earlier appends left unsynced is synced as the file is let go.
      await this.close().catch(() => undefined);
      throw err;
    }
  }

  async sync(): Promise<void> {
    if (!this.#isUnsynced || this.#handle === undefined) return;
    this.#isUnsynced = false;
    await this.#handle.sync();
  }

  async replace(path: string, data: string): Promise<void> {
    const temporary = `${path}.tmp`;
    // On the disk before it takes the name: a crash leaves the old file or the new, whole.
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  }

  async check(path: string): Promise<LiveFileState> {
    const id = this.#id;
    if (this.#path !== path || id === undefined) return { state: 'same' };
    let now;
    try {
      now = await stat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'removed' };
      throw err;
    }
    if (now.dev === id.dev && now.ino === id.ino) return { state: 'same' };
    return { state: 'replaced', bytes: now.size };
  }

  async salvage(to: string): Promise<number> {
    const from = this.#handle;
    if (from === undefined) return 0;
    const target = await open(to, 'a');
    let copied = 0;
    try {
      const chunk = Buffer.allocUnsafe(COPY_BYTES);
      for (;;) {
        const { bytesRead } = await from.read(chunk, 0, COPY_BYTES, copied);
        if (bytesRead === 0) break;
        await target.write(chunk, 0, bytesRead);
        copied += bytesRead;
      }
      await target.sync();
    } finally {
      await target.close();
      await this.close();
    }
    return copied;
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    const isUnsynced = this.#isUnsynced;
    this.#handle = undefined;
    this.#path = undefined;
    this.#id = undefined;
    this.#isUnsynced = false;
    try {
      // A file left for the next one goes to the disk first.
      if (isUnsynced) await handle?.sync();
    } finally {
      await handle?.close();
    }
  }
}
