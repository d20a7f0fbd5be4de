// Suite "event-loop": how long scoring holds the JS thread. Scores 3,000 TREC DL passages
// (ONNX Runtime backend) and 300 (native engine) for one query with a synthetic tiny model,
// and 200 with a MiniLM-L6-shaped one (ONNX Runtime: its batches take 100+ ms on a small CPU,
// which is why sessions run on a worker thread), sampling the event loop's delay
// (perf_hooks.monitorEventLoopDelay, 1 ms resolution).
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
const models = {
  tiny: makeModel({ preset: 'tiny', seed: 1, out: join(dir, 'tiny') }).dir,
  'minilm-l6': makeModel({ preset: 'minilm-l6', seed: 1, out: join(dir, 'minilm-l6') }).dir,
};

console.log('| model | backend | documents | wall ms | event-loop delay p99 ms | max ms |');
console.log('|---|---|---:|---:|---:|---:|');
for (const [name, backend, n] of [['tiny', 'onnx', 3000], ['tiny', 'native', 300], ['minilm-l6', 'onnx', 200]]) {
  const encoder = await CrossEncoder.load(models[name], { backend });
  await encoder.score('warm up', docs.slice(0, 10));
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const start = Date.now();
  await encoder.score('what is the definition of anthropology', docs.slice(0, n));
  histogram.disable();
  const ms = (v) => (v / 1e6).toFixed(1);
  console.log(`| ${name} | ${backend} | ${n} | ${Date.now() - start} | ${ms(histogram.percentile(99))} | ${ms(histogram.max)} |`);
  await encoder.dispose();
}
rmSync(dir, { recursive: true, force: true });
