// Suite "serve": load on `crossrank serve` over loopback with autocannon. The server runs in
// its own process with the minilm-l6 synthetic model (ONNX Runtime, CPU); each request is a
// Cohere-shape POST /v1/rerank of a TREC DL 2019 query with 10 of its BM25 passages (requests
// cycle through the 43 queries). Reports throughput and latency at 1, 16 and 64 concurrent
// clients, and every error or non-2xx answer.
//
//   npm run bench -- serve [--seconds 20] [--docs 10] [--clients 1,16,64] [--preset minilm-l6]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import autocannon from 'autocannon';

import { readFileSync } from 'node:fs';

import { makeModel, readQueries, readRun } from '../../dist/index.js';

const root = resolve(import.meta.dirname, '..', '..');
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const seconds = Number(option('--seconds', '20'));
const perRequest = Number(option('--docs', '10'));
const clientCounts = option('--clients', '1,16,64').split(',').map(Number);
const preset = option('--preset', 'minilm-l6');

const tmp = mkdtempSync(join(tmpdir(), 'crossrank-serve-'));
const model = makeModel({ preset, seed: 1, out: join(tmp, preset) }).dir;
const bodies = requestBodies();

const server = spawn(process.execPath, [join(root, 'dist', 'cli', 'main.js'), 'serve', '--model', model, '--port', '0', '--timeout-ms', '120000'], {
  stdio: ['ignore', 'ignore', 'pipe'],
});
let log = '';
const url = await new Promise((resolveUrl, reject) => {
  server.stderr.on('data', (d) => {
    log += d;
    const m = /listening on (http:\/\/\S+)/.exec(log);
    if (m && log.includes('ready')) resolveUrl(m[1]);
  });
  server.on('exit', (code) => reject(new Error(`serve exited ${code}: ${log}`)));
});

console.log(`machine: ${cpus()[0].model}, ${cpus().length} cores, Node ${process.version}; server: crossrank serve, ${preset} synthetic, ONNX Runtime CPU`);
console.log(`request: POST /v1/rerank, 1 TREC DL query + ${perRequest} BM25 passages; ${seconds} s per row, after a warm-up\n`);
await run(2, 3); // warm-up
console.log('| clients | requests | requests/s | pairs/s | p50 ms | p99 ms | max ms | errors | non-2xx |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const clients of clientCounts) {
  const r = await run(clients, seconds);
  console.log(
    `| ${clients} | ${r.requests.total} | ${r.requests.average.toFixed(1)} | ${(r.requests.average * perRequest).toFixed(0)} | ${r.latency.p50} | ${r.latency.p99} | ${r.latency.max} | ${r.errors + r.timeouts} | ${r.non2xx} |`,
  );
}
server.kill('SIGTERM');
await new Promise((r) => server.on('exit', r));
rmSync(tmp, { recursive: true, force: true });

function run(connections, duration) {
  let i = 0;
  return autocannon({
    url: `${url}/v1/rerank`,
    connections,
    duration,
    timeout: 120,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: bodies[i++ % bodies.length] }),
      },
    ],
  });
}

function requestBodies() {
  const dl = join(root, '..', 'shared', 'data', 'trec-dl-2019');
  const text = new Map(readFileSync(join(dl, 'passages.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).map((p) => [String(p.id), p.text]));
  const run = readRun(join(dl, 'runs', 'bm25.trec'));
  return [...readQueries(join(dl, 'queries.tsv'))].map(([qid, query]) =>
    JSON.stringify({ query, documents: run.get(qid).slice(0, perRequest).map((e) => text.get(e.docid)) }),
  );
}
