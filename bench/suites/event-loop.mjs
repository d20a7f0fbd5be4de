// Suite "event-loop": how long scoring holds the JS thread. Scores 3,000 TREC DL passages
// (ONNX Runtime backend) and 300 (native engine) for one query with a synthetic tiny model,
// sampling the event loop's delay (perf_hooks.monitorEventLoopDelay, 1 ms resolution).
//
//   npm run bench -- event-loop
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { CrossEncoder, makeModel } from '../../dist/index.js';

const root = resolve(import.meta.dirname, '..', '..');
const passages = join(root, '..', 'shared', 'data', 'trec-dl-2019', 'passages.jsonl');
const docs = readFileSync(passages, 'utf8').trim().split('\n').slice(0, 3000).map((l) => JSON.parse(l).text);
const dir = mkdtempSync(join(tmpdir(), 'crossrank-eld-'));
const model = makeModel({ preset: 'tiny', seed: 1, out: join(dir, 'tiny') }).dir;

console.log('| backend | documents | wall ms | event-loop delay p99 ms | max ms |');
console.log('|---|---:|---:|---:|---:|');
for (const [backend, n] of [['onnx', 3000], ['native', 300]]) {
  const encoder = await CrossEncoder.load(model, { backend });
  await encoder.score('warm up', docs.slice(0, 10));
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const start = Date.now();
  await encoder.score('what is the definition of anthropology', docs.slice(0, n));
  histogram.disable();
  const ms = (v) => (v / 1e6).toFixed(1);
  console.log(`| ${backend} | ${n} | ${Date.now() - start} | ${ms(histogram.percentile(99))} | ${ms(histogram.max)} |`);
  await encoder.dispose();
}
rmSync(dir, { recursive: true, force: true });
