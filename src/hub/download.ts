/**
 * Downloads one file from the hub into the cache: HEAD for commit and etag (without
 * following redirects, as huggingface_hub does), then GET (following redirects) into
 * blobs/<etag>.incomplete, resuming a partial file with a Range request, checking the size
 * and the etag (sha256 for LFS files, git blob sha1 otherwise), and renaming into place.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, statSync, symlinkSync, copyFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

import { ModelLoadError } from '../errors.js';

export interface HubRequestOptions {
  endpoint: string;
  token?: string;
  /** Called with bytes done and total for a file. */
  onProgress?: (file: string, done: number, total: number) => void;
  /** Per-request timeout, ms. */
  timeoutMs?: number;
}

export interface RemoteFile {
  commit: string;
  etag: string;
  size: number;
}

export class FileNotOnHub extends ModelLoadError {}

function headers(token: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
  return { 'user-agent': 'crossrank', ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
}

function resolveUrl(o: HubRequestOptions, repoId: string, revision: string, file: string): string {
  return `${o.endpoint.replace(/\/$/, '')}/${repoId}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

function httpError(status: number, repoId: string, file: string): ModelLoadError {
  if (status === 404) return new FileNotOnHub(`${repoId}: ${file} not found on the hub (404)`);
  if (status === 401 || status === 403) {
    return new ModelLoadError(`${repoId}: access denied (${status}); the model may be gated or private: set HF_TOKEN`);
  }
  return new ModelLoadError(`${repoId}: ${file}: the hub answered HTTP ${status}`);
}

/** Metadata of a file at a revision (commit, etag, size). */
export async function headFile(o: HubRequestOptions, repoId: string, revision: string, file: string): Promise<RemoteFile> {
  let url = resolveUrl(o, repoId, revision, file);
  // Follow same-host redirects (renamed repos) by hand; stop at the first answer with metadata.
  for (let hop = 0; hop < 5; hop++) {
    let response: Response;
    try {
      response = await fetch(url, { method: 'HEAD', redirect: 'manual', headers: headers(o.token, { 'accept-encoding': 'identity' }), signal: AbortSignal.timeout(o.timeoutMs ?? 30_000) });
    } catch (error) {
      throw new ModelLoadError(`${repoId}: cannot reach the hub at ${o.endpoint} (${(error as Error).message}); set HF_HUB_OFFLINE=1 to use the cache only`, { cause: error });
    }
    const commit = response.headers.get('x-repo-commit');
    const etag = (response.headers.get('x-linked-etag') ?? response.headers.get('etag'))?.replace(/^W\//, '').replace(/"/g, '');
    const size = Number(response.headers.get('x-linked-size') ?? response.headers.get('content-length'));
    if (response.status >= 300 && response.status < 400 && !(commit && etag)) {
      const location = response.headers.get('location');
      if (!location) break;
      url = new URL(location, url).toString();
      continue;
    }
    if (response.status >= 400) throw httpError(response.status, repoId, file);
    if (!commit || !etag) throw new ModelLoadError(`${repoId}: ${file}: the hub did not send a commit and etag`);
    return { commit, etag, size: Number.isFinite(size) ? size : -1 };
  }
  throw new ModelLoadError(`${repoId}: ${file}: too many redirects`);
}

async function digestOf(path: string, algorithm: 'sha256' | 'sha1', prefix?: Buffer): Promise<string> {
  const hash = createHash(algorithm);
  if (prefix) hash.update(prefix);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Checks a downloaded file against its etag: sha256 (LFS) or git blob sha1. */
async function verify(path: string, remote: RemoteFile, repoId: string, file: string): Promise<void> {
  const size = statSync(path).size;
  if (remote.size >= 0 && size !== remote.size) {
    throw new ModelLoadError(`${repoId}: ${file}: downloaded ${size} bytes, expected ${remote.size}`);
  }
  let actual: string | undefined;
  if (/^[0-9a-f]{64}$/.test(remote.etag)) actual = await digestOf(path, 'sha256');
  else if (/^[0-9a-f]{40}$/.test(remote.etag)) actual = await digestOf(path, 'sha1', Buffer.from(`blob ${size}\0`));
  if (actual !== undefined && actual !== remote.etag) {
    throw new ModelLoadError(`${repoId}: ${file}: checksum mismatch (got ${actual}, expected ${remote.etag})`);
  }
}

/** Downloads `file` into the repo folder's blobs/ and links it from snapshots/<commit>/. */
export async function downloadFile(
  o: HubRequestOptions,
  repoFolder: string,
  repoId: string,
  revision: string,
  file: string,
  remote: RemoteFile,
): Promise<string> {
  const snapshotPath = join(repoFolder, 'snapshots', remote.commit, file);
  if (existsSync(snapshotPath)) return snapshotPath;
  const blob = join(repoFolder, 'blobs', remote.etag);
  if (!existsSync(blob)) {
    mkdirSync(dirname(blob), { recursive: true });
    const partial = `${blob}.incomplete`;
    let attempts = 0;
    for (;;) {
      try {
        await fetchInto(o, resolveUrl(o, repoId, remote.commit, file), partial, remote, repoId, file);
        break;
      } catch (error) {
        // A dropped connection keeps what arrived; the next attempt resumes from there.
        if (++attempts >= 3 || !(error instanceof TransferInterrupted)) throw unwrap(error);
      }
    }
    try {
      await verify(partial, remote, repoId, file);
    } catch (error) {
      rmSync(partial, { force: true }); // corrupt: never resume from it
      throw error;
    }
    renameSync(partial, blob);
  }
  mkdirSync(dirname(snapshotPath), { recursive: true });
  try {
    symlinkSync(relative(dirname(snapshotPath), blob), snapshotPath);
  } catch {
    copyFileSync(blob, snapshotPath); // file systems without symlinks
  }
  return snapshotPath;
}

class TransferInterrupted extends Error {}

function unwrap(error: unknown): Error {
  if (error instanceof TransferInterrupted) return new ModelLoadError(`download interrupted: ${error.message}`, { cause: error });
  return error as Error;
}

async function fetchInto(o: HubRequestOptions, url: string, partial: string, remote: RemoteFile, repoId: string, file: string): Promise<void> {
  const have = existsSync(partial) ? statSync(partial).size : 0;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: headers(o.token, have > 0 ? { range: `bytes=${have}-`, 'accept-encoding': 'identity' } : { 'accept-encoding': 'identity' }),
      redirect: 'follow',
      signal: AbortSignal.timeout(o.timeoutMs ?? 30_000),
    });
  } catch (error) {
    throw new TransferInterrupted((error as Error).message);
  }
  if (response.status === 416 && remote.size >= 0 && have === remote.size) return; // already complete
  if (response.status >= 400) throw httpError(response.status, repoId, file);
  const resume = response.status === 206;
  const fd = openSync(partial, resume ? 'a' : 'w');
  let done = resume ? have : 0;
  try {
    if (!response.body) throw new TransferInterrupted('empty response body');
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      writeSync(fd, chunk);
      done += chunk.length;
      o.onProgress?.(file, done, remote.size);
    }
  } catch (error) {
    throw new TransferInterrupted((error as Error).message);
  } finally {
    closeSync(fd);
  }
  if (remote.size >= 0 && done < remote.size) throw new TransferInterrupted(`got ${done} of ${remote.size} bytes`);
}
