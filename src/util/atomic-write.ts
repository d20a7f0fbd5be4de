/** Writes a file so that readers see the old content or the new one, never a half-written file. */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    if (Array.isArray(data)) {
      writeFileSync(tmp, Buffer.concat(data as Uint8Array[]));
    } else {
      writeFileSync(tmp, data as string | Uint8Array);
    }
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}
