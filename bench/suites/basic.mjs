// Suite "basic": small benchmarks run side by side in one process.
//   score head   native CPU reference vs a plain JS loop vs CUDA (when available), 1M rows
//   make-model   time to write the minilm-l6 synthetic model (weights, safetensors, ONNX)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { applyScoreHead, doctorReport, makeModel } from '../../dist/index.js';

async function time(fn, repeat) {
  await fn(); // warm up
  const start = performance.now();
  for (let i = 0; i < repeat; i++) await fn();
  return (performance.now() - start) / repeat;
}

const rows = 1_000_000;
const logits = Float32Array.from({ length: rows }, (_, i) => Math.sin(i) * 8);
const results = [];

const jsSigmoid = async () => {
  const out = new Float32Array(rows);
  for (let i = 0; i < rows; i++) out[i] = 1 / (1 + Math.exp(-logits[i]));
  return out;
};
const js = await time(jsSigmoid, 10);
const cpu = await time(() => applyScoreHead(logits, { numLabels: 1 }), 10);
results.push(['score head, 1M rows, JS loop', js, 1]);
results.push(['score head, 1M rows, native CPU', cpu, js / cpu]);

const report = await doctorReport();
if (report.cuda.available) {
  const gpu = await time(() => applyScoreHead(logits, { numLabels: 1 }, { device: 'cuda' }), 10);
  results.push(['score head, 1M rows, CUDA (incl. transfers)', gpu, js / gpu]);
}

const dir = mkdtempSync(join(tmpdir(), 'crossrank-bench-'));
let n = 0;
const make = await time(() => makeModel({ preset: 'minilm-l6', seed: 1, out: join(dir, `m${n++}`) }), 2);
rmSync(dir, { recursive: true, force: true });
results.push(['make-model minilm-l6 (22.7M params)', make, null]);

console.log(`crossrank ${report.version} on ${report.platform}, ${report.cpu.model} (${report.cpu.cores} cores), Node ${report.node}`);
console.log(`CUDA: ${report.cuda.available ? report.cuda.devices.map((d) => d.name).join(', ') : `no (${report.cuda.reasonCode})`}`);
console.log('| benchmark | ms | speed-up vs JS |');
console.log('|---|---:|---:|');
for (const [name, ms, ratio] of results) console.log(`| ${name} | ${ms.toFixed(2)} | ${ratio === null ? '' : `${ratio.toFixed(2)}x`} |`);
