/**
 * Crash-safe file writes: temp file in the same directory, fsync, rename, fsync the directory.
 * A reader sees either the old file or the new one, never a half-written one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

let counter = 0;

function tempName(file: string): string {
  counter += 1;
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${counter}.tmp`);
}

/**
 * The file an atomic write's temp file (`tempName`) is about to replace, or undefined for any other
 * path. A watcher that sees the temp file but misses the rename onto the target (Node's recursive
 * fs.watch on Linux was seen to report only the temp name) still learns that the target changes.
 */
export function atomicWriteTarget(file: string): string | undefined {
  const m = /^\.(.+)\.\d+\.\d+\.tmp$/.exec(path.basename(file));
  return m ? path.join(path.dirname(file), m[1]!) : undefined;
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some file systems do not allow fsync on a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes a file and fsyncs it (no rename): for files inside a folder that is itself renamed into place. */
export function writeFileSyncedSync(file: string, data: string | Uint8Array): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function writeFileAtomicSync(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempName(file);
  writeFileSyncedSync(tmp, data);
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(path.dirname(file));
}

export function writeJsonAtomicSync(file: string, value: unknown): void {
  writeFileAtomicSync(file, JSON.stringify(value, null, 2) + '\n');
}
