import { open, rename, writeFile, type FileHandle } from 'node:fs/promises';

/**
 * The disk, as the audit writer uses it. A seam so tests can stand in a
 * slow or failing disk.
 */
export interface AuditAppender {
  /** Appends `data` to `path` and resolves once it is synced to disk. */
  append(path: string, data: Buffer): Promise<void>;
  /** Replaces `path` with `data` atomically: written beside it, then renamed. */
  replace(path: string, data: string): Promise<void>;
  /** Closes what is open. */
  close(): Promise<void>;
}

/** Appends with fsync, keeping the current file open between flushes. */
export class FileAppender implements AuditAppender {
  #path: string | undefined;
  #handle: FileHandle | undefined;

  async append(path: string, data: Buffer): Promise<void> {
    try {
      let handle = this.#path === path ? this.#handle : undefined;
      if (handle === undefined) {
        await this.close();
        handle = await open(path, 'a');
        this.#handle = handle;
        this.#path = path;
      }
      await handle.appendFile(data);
      await handle.sync();
    } catch (err) {
      // Reopen on the next append rather than write after a failure.
      await this.close();
      throw err;
    }
  }

  async replace(path: string, data: string): Promise<void> {
    const temporary = `${path}.tmp`;
    await writeFile(temporary, data);
    await rename(temporary, path);
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    this.#path = undefined;
    await handle?.close();
  }
}
