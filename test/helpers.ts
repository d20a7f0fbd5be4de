/** Shared helpers for the test suites. */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '..');
export const cliPath = join(repoRoot, 'dist', 'cli', 'main.js');
export const sharedDir = resolve(repoRoot, '..', 'shared');
export const bertTokenizerDir = join(sharedDir, 'tokenizers', 'bert-base-uncased');

/** Runs the built CLI; environment additions are merged into the current environment. */
export function runCli(args: string[], env: Record<string, string | undefined> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [cliPath, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    cwd: repoRoot,
  });
}

/** Runs an inline ES module with node (from the repo root, so `crossrank` source imports resolve). */
export function runNode(source: string, env: Record<string, string | undefined> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--input-type=module', '-e', source], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    cwd: repoRoot,
  });
}

export function tempDir(prefix = 'crossrank-test-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Ranking agreement of the first k scores. `strict`: the same items in the same order.
 * `upToTies`: at every rank, the item `got` puts there has a reference score within `tie` of
 * the reference's own item at that rank, so only items the reference scores (nearly) alike
 * trade places. Synthetic models score many documents within fp16 rounding of each other,
 * where the strict order is a coin toss; `tie` is fixed and below the score tolerance.
 */
export function compareTopK(
  want: ArrayLike<number>,
  got: ArrayLike<number>,
  k: number,
  tie: number,
): { strict: boolean; upToTies: boolean } {
  const top = (s: ArrayLike<number>) => Array.from(Array(s.length).keys()).sort((a, b) => s[b] - s[a]).slice(0, k);
  const a = top(want);
  const b = top(got);
  return {
    strict: a.every((x, i) => x === b[i]),
    upToTies: a.every((x, i) => Math.abs(want[x] - want[b[i]]) <= tie),
  };
}
