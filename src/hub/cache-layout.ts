/**
 * The Hugging Face hub cache layout, shared with Python tools (huggingface_hub):
 *   <cache>/models--<org>--<name>/refs/<revision>          commit hash the revision points at
 *   <cache>/models--<org>--<name>/snapshots/<commit>/<file> the file (a link into blobs/)
 *   <cache>/models--<org>--<name>/blobs/<etag>             the content, named by its etag
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub (as huggingface_hub). */
export function hubCacheDir(override?: string): string {
  if (override) return override;
  if (process.env.HF_HUB_CACHE) return process.env.HF_HUB_CACHE;
  const home = process.env.HF_HOME ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
  return join(home, 'hub');
}

export function repoFolder(cache: string, repoId: string): string {
  return join(cache, `models--${repoId.replace(/\//g, '--')}`);
}

export const isCommitHash = (revision: string) => /^[0-9a-f]{40}$/.test(revision);

/** A hub repository id: "org/name" (or a legacy single name). */
export function isRepoId(value: string): boolean {
  return /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/.test(value) && !value.includes('..') && !value.endsWith('.');
}
