/** Small file probes the runner and its executors share: tails of growing logs, sizes, metrics steps. */
import * as fs from 'node:fs';
import { MetricsLine } from '../../core/contracts';
import { LineSplitter } from './protocol';

/** Last non-empty lines of a file's tail (from byte `from`), for failure reasons. */
export function tailLines(file: string, count: number, from = 0): string[] {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const start = Math.max(from, size - 8192);
      const buf = Buffer.alloc(Math.max(0, size - start));
      fs.readSync(fd, buf, 0, buf.length, start);
      return buf
        .toString('utf8')
        .split('\n')
        .map((l) => l.trimEnd())
        .filter((l) => l.trim() && !l.startsWith('=== '))
        .slice(-count);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return [];
  }
}

/** Reads whatever was appended to a file since `offset`, as whole lines. */
export class FileTail {
  private splitter = new LineSplitter();
  constructor(
    readonly file: string,
    public offset: number,
  ) {}
  read(): string[] {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return [];
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < this.offset) this.offset = 0; // truncated and rewritten
      if (size === this.offset) return [];
      const buf = Buffer.alloc(size - this.offset);
      fs.readSync(fd, buf, 0, buf.length, this.offset);
      this.offset = size;
      return this.splitter.push(buf.toString('utf8'));
    } finally {
      fs.closeSync(fd);
    }
  }
  flush(): string[] {
    return [...this.read(), ...this.splitter.flush()];
  }
}

export function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** The highest step in a metrics.jsonl (-1 when none). */
export function lastMetricsStep(file: string): number {
  let last = -1;
  try {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const m = MetricsLine.safeParse(JSON.parse(line));
        if (m.success) last = Math.max(last, m.data.step);
      } catch {
        /* a torn last line */
      }
    }
  } catch {
    /* no metrics yet */
  }
  return last;
}
