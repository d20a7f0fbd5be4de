/**
 * Whole-buffer reads and writes on a file descriptor. One read(2) or write(2) moves at most
 * ~2 GB on Linux and may move less than asked; fs.readSync/writeSync return what moved, so a
 * single call can silently drop the tail of a large tensor (an 8B model's fp32 embedding
 * table is 2.5 GB). These loop, in chunks of at most `chunk` bytes.
 */
import { readSync, writeSync } from 'node:fs';

const MAX_CHUNK = 1 << 30;

export function writeAll(fd: number, bytes: Uint8Array, chunk = MAX_CHUNK): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, Math.min(chunk, bytes.length - done));
}

/** Fills `bytes` from `position`; returns how many bytes were read (fewer only at the end of the file). */
export function readAll(fd: number, bytes: Uint8Array, position: number, chunk = MAX_CHUNK): number {
  let done = 0;
  while (done < bytes.length) {
    const n = readSync(fd, bytes, done, Math.min(chunk, bytes.length - done), position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}
