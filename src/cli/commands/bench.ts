import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';

import { timeQueries } from '../../bench/query-times.js';
import { trecDlWorkload } from '../../bench/workload.js';
import { CrossEncoder } from '../../cross-encoder.js';
import { InvalidArgumentError } from '../../errors.js';
import { makeModel } from '../../model/make-model.js';
import { presetNames } from '../../model/presets.js';
import type { CudaElementType } from '../../native/binding.js';
import { BACKEND_HELP, BATCH_TOKENS_HELP, integer, precision, PRECISION_HELP } from '../options.js';

interface BenchOptions {
  model?: string;
  preset?: string;
  tokenizer?: string;
  backend?: 'onnx' | 'native';
  device: string;
  docs: number;
  queries: number;
  warmup: number;
  batchTokens?: number;
  maxLength?: number;
  cached?: boolean;
  precision?: CudaElementType;
  json?: boolean;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('time reranking on queries with real TREC DL passage lengths: pairs/s, tokens/s, latency percentiles')
    .option('--model <id|dir>', 'hub id or model directory')
    .option('--preset <name>', `or a synthetic model: ${presetNames.join(', ')}`)
    .option('--tokenizer <dir>', 'tokenizer for --preset (default: the shared bert-base-uncased)')
    .option('--backend <name>', BACKEND_HELP)
    .option('--device <device>', 'cpu, cuda or cuda:N', 'cpu')
    .option('--docs <n>', 'documents per query', integer('--docs', 1), 100)
    .option('--queries <n>', 'timed queries', integer('--queries', 1), 20)
    .option('--warmup <n>', 'untimed queries first', integer('--warmup', 0), 2)
    .option('--batch-tokens <n>', BATCH_TOKENS_HELP, integer('--batch-tokens', 1))
    .option('--max-length <n>', 'longest pair in tokens', integer('--max-length', 4))
    .option('--cached', 'time the same queries again with their documents\' tokens cached: how much of the latency is tokenization')
    .option('--precision <type>', PRECISION_HELP, precision)
    .option('--json', 'print the result as JSON')
    .action(async (o: BenchOptions) => {
      if (!o.model === !o.preset) throw new InvalidArgumentError('give exactly one of --model or --preset');
      let temp: string | undefined;
      let modelPath = o.model!;
      if (o.preset) {
        temp = mkdtempSync(join(tmpdir(), 'crossrank-bench-'));
        modelPath = makeModel({ preset: o.preset, seed: 0, out: join(temp, o.preset), tokenizer: o.tokenizer }).dir;
      }
      try {
        const model = await CrossEncoder.load(modelPath, {
          backend: o.backend,
          device: o.device,
          batchTokens: o.batchTokens,
          maxLength: o.maxLength,
          precision: o.precision,
        });
        const work = trecDlWorkload(o.warmup + o.queries, o.docs);
        for (let q = 0; q < o.warmup; q++) await model.score(work.queries[q], work.docs[q]);
        const timed = await timeQueries(model, work, o.warmup);
        // The same timed queries again: every document's tokens are in the tokenizer's cache
        // now, so the difference to the first pass is what tokenization costs.
        const cached = o.cached ? await timeQueries(model, work, o.warmup) : undefined;
        const latencies = timed.latencies;
        await model.dispose();
        const total = latencies.reduce((a, b) => a + b, 0) / 1000;
        const pairs = o.queries * o.docs;
        // Tokens per pair: query + document + 3 special tokens (words are one token each here).
        let tokens = 0;
        for (let q = o.warmup; q < work.queries.length; q++) {
          const qLen = work.queries[q].split(' ').length;
          for (const d of work.docs[q]) tokens += Math.min(model.info.maxLength, qLen + d.split(' ').length + 3);
        }
        const result = {
          model: o.model ?? `preset:${o.preset}`,
          backend: model.info.backend,
          device: model.info.device,
          ...(model.info.precision ? { precision: model.info.precision } : {}),
          // What ran the linear layers on the native CUDA engine (CROSSRANK_CUDA_GEMM, or the default).
          ...(model.info.linearLayers ? { linearLayers: model.info.linearLayers } : {}),
          ...(model.info.gelu ? { gelu: model.info.gelu } : {}),
          queries: o.queries,
          docsPerQuery: o.docs,
          pairsPerSecond: pairs / total,
          tokensPerSecond: tokens / total,
          latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), mean: (total * 1000) / o.queries },
          backendCallsPerQuery: timed.backendCalls / o.queries,
          // Per query: time inside backend calls, and the rest (tokenization, batching, the head, JavaScript).
          backendMsP50: percentile(timed.backendMs, 50),
          outsideBackendMsP50: percentile(timed.outsideMs, 50),
          ...(cached
            ? {
                cachedTokensLatencyMs: { p50: percentile(cached.latencies, 50), p95: percentile(cached.latencies, 95), p99: percentile(cached.latencies, 99) },
                cachedTokensOutsideBackendMsP50: percentile(cached.outsideMs, 50),
              }
            : {}),
        };
        if (o.json) {
          console.log(JSON.stringify(result, null, 2));
        } else {
          const details = [
            model.info.precision,
            result.linearLayers && `linear layers: ${result.linearLayers}`,
            model.info.gelu === 'tanh' && 'GELU: tanh approximation',
          ].filter(Boolean);
          const where = `${result.backend}/${result.device}${details.length ? ` (${details.join(', ')})` : ''}`;
          console.log(`${result.model} on ${where}: ${o.queries} queries x ${o.docs} docs (TREC DL lengths)`);
          console.log('| pairs/s | tokens/s | p50 ms | p95 ms | p99 ms |');
          console.log('|---:|---:|---:|---:|---:|');
          const l = result.latencyMs;
          const ms = (x: number) => x.toFixed(x < 10 ? 2 : 1);
          console.log(`| ${result.pairsPerSecond.toFixed(1)} | ${result.tokensPerSecond.toFixed(0)} | ${ms(l.p50)} | ${ms(l.p95)} | ${ms(l.p99)} |`);
          console.log(
            `per query: p50 ${ms(result.backendMsP50)} ms in ${result.backendCallsPerQuery.toFixed(2)} backend calls, ${ms(result.outsideBackendMsP50)} ms outside them (tokenization, batching, JavaScript)`,
          );
          if (result.cachedTokensLatencyMs) {
            const c = result.cachedTokensLatencyMs;
            console.log(
              `same queries, documents' tokens cached: p50 ${ms(c.p50)} ms, p95 ${ms(c.p95)} ms, p99 ${ms(c.p99)} ms; outside the backend p50 ${ms(result.cachedTokensOutsideBackendMsP50!)} ms`,
            );
          }
        }
      } finally {
        if (temp) rmSync(temp, { recursive: true, force: true });
      }
    });
}
