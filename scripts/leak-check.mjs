#!/usr/bin/env node
// Leak check: many scoring calls on a synthetic model must leave memory where it was.
//   node scripts/leak-check.mjs [--calls 100000] [--backend onnx|native]
// Warms up (10% of the calls), measures RSS and the JS heap after a GC, runs the calls in
// waves of 256 concurrent ones (1-3 documents each, so the batch scheduler merges them),
// measures again and fails (exit 1) when RSS grew by more than 64 MB or the heap by 16 MB.
// Needs the package built (npm run build) and node --expose-gc (added automatically).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

if (typeof globalThis.gc !== 'function') {
  try {
    execFileSync(process.execPath, ['--expose-gc', ...process.argv.slice(1)], { stdio: 'inherit' });
    process.exit(0);
  } catch (error) {
    process.exit(error.status ?? 1);
  }
}

const root = resolve(import.meta.dirname, '..');
const { CrossEncoder, makeModel } = await import(join(root, 'dist', 'index.js'));
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const calls = Number(option('--calls', '100000'));
const backend = option('--backend', 'onnx');

const dir = mkdtempSync(join(tmpdir(), 'crossrank-leak-'));
const model = await CrossEncoder.load(makeModel({ preset: 'tiny', seed: 1, out: join(dir, 'tiny') }).dir, { backend });
const docs = ['the cat sat on the mat', 'quantum chromodynamics', 'a lone surrogate \ud800 and invalid text', 'cats purr'];

async function run(n) {
  for (let done = 0; done < n; ) {
    const wave = Math.min(256, n - done);
    await Promise.all(Array.from({ length: wave }, (_, i) => model.score(`query ${(done + i) % 97}`, docs.slice(0, 1 + ((done + i) % 3)))));
    done += wave;
  }
}
const memory = () => {
  globalThis.gc();
  const m = process.memoryUsage();
  return { rss: m.rss / 2 ** 20, heap: m.heapUsed / 2 ** 20 };
};

await run(Math.ceil(calls / 10));
const before = memory();
const start = Date.now();
await run(calls);
const after = memory();
await model.dispose();
rmSync(dir, { recursive: true, force: true });
const grew = { rss: after.rss - before.rss, heap: after.heap - before.heap };
console.log(
  `leak check (${backend}): ${calls} calls in ${((Date.now() - start) / 1000).toFixed(1)} s; ` +
    `RSS ${before.rss.toFixed(1)} -> ${after.rss.toFixed(1)} MB (${grew.rss >= 0 ? '+' : ''}${grew.rss.toFixed(1)}), ` +
    `heap ${before.heap.toFixed(1)} -> ${after.heap.toFixed(1)} MB (${grew.heap >= 0 ? '+' : ''}${grew.heap.toFixed(1)})`,
);
if (grew.rss > 64 || grew.heap > 16) {
  console.error('leak check: memory grew');
  process.exit(1);
}
