/** The rerank, tokenize and bench commands: formats, options and errors. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from 'tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { makeModel } from '../../src/model/make-model.js';
import { DataType, GraphBuilder } from '../../src/onnx/graph-builder.js';
import { bertTokenizerDir, runCli, tempDir } from '../helpers.js';

const dir = tempDir();
const modelDir = join(dir.path, 'tiny');
const txt = join(dir.path, 'docs.txt');
const jsonl = join(dir.path, 'docs.jsonl');

beforeAll(() => {
  makeModel({ preset: 'tiny', seed: 2, out: modelDir, tokenizer: bertTokenizerDir });
  writeFileSync(txt, 'cats purr\nstock markets fell\ncats and dogs\n');
  writeFileSync(jsonl, ['cats purr', 'stock markets fell', 'cats and dogs'].map((text, i) => JSON.stringify({ text, id: i })).join('\n'));
});
afterAll(() => dir.cleanup());

describe('crossrank rerank', () => {
  it('reads text and JSONL alike and prints [{index, score, text}] best first', () => {
    const a = runCli(['rerank', '--model', modelDir, '--query', 'cats', '--input', txt, '--json']);
    const b = runCli(['rerank', '--model', modelDir, '--query', 'cats', '--input', jsonl, '--json']);
    expect(a.status, a.stderr).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    const ranked = JSON.parse(a.stdout) as { index: number; score: number; text: string }[];
    expect(ranked.map((r) => Object.keys(r))).toEqual([['index', 'score', 'text'], ['index', 'score', 'text'], ['index', 'score', 'text']]);
    expect(ranked.map((r) => r.index).sort()).toEqual([0, 1, 2]);
  });

  it('--top-n and the plain-text table', () => {
    const run = runCli(['rerank', '--model', modelDir, '--query', 'cats', '--input', txt, '--top-n', '2']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.trim().split('\n')).toHaveLength(2);
    expect(run.stdout).toMatch(/^\s+1\s+0\.\d{6}\s+#\d\s+/);
  });

  it('reads documents from stdin with -', async () => {
    const { spawnSync } = await import('node:child_process');
    const { cliPath } = await import('../helpers.js');
    const run = spawnSync(process.execPath, [cliPath, 'rerank', '--model', modelDir, '--query', 'q', '--input', '-', '--json'], {
      input: 'one\ntwo\n',
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toHaveLength(2);
  });

  it('exits 2 with a message on bad input', () => {
    const badJson = join(dir.path, 'bad.jsonl');
    writeFileSync(badJson, '{"text": "ok"}\n{"title": "no text"}\n');
    const run = runCli(['rerank', '--model', modelDir, '--query', 'q', '--input', badJson]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/bad.jsonl:2: each line needs a string "text"/);
    expect(runCli(['rerank', '--model', modelDir, '--query', 'q', '--input', join(dir.path, 'none.txt')]).status).toBe(2);
    expect(runCli(['rerank', '--model', modelDir, '--query', 'q', '--input', txt, '--activation', 'relu']).status).toBe(2);
    expect(runCli(['rerank', '--model', modelDir, '--query', 'q', '--input', txt, '--top-n', '0']).status).toBe(2);
    // --precision is checked before any model is read; where it applies is the library's to say.
    const precision = runCli(['rerank', '--model', modelDir, '--query', 'q', '--input', txt, '--precision', 'fp32']);
    expect(precision.status).toBe(2);
    expect(precision.stderr).toMatch(/--precision must be fp16 or bf16, got "fp32"/);
    const onCpu = runCli(['rerank', '--model', modelDir, '--query', 'q', '--input', txt, '--backend', 'native', '--precision', 'bf16']);
    expect(onCpu.status).toBe(2);
    expect(onCpu.stderr).toMatch(/precision applies to the native CUDA engine only/);
  });

  it('refuses a graph that is not a cross-encoder (exit 3)', () => {
    const other = join(dir.path, 'vision');
    makeModel({ preset: 'tiny', seed: 2, out: other, tokenizer: bertTokenizerDir });
    const g = new GraphBuilder();
    g.op('Identity', ['pixel_values'], {}, 'logits');
    const bytes = g.encode({
      graphName: 'g',
      inputs: [{ name: 'pixel_values', elemType: DataType.FLOAT, shape: ['batch', 1] }],
      outputs: [{ name: 'logits', elemType: DataType.FLOAT, shape: ['batch', 1] }],
      opset: 17,
      irVersion: 8,
      producerName: 'test',
      producerVersion: '0',
    });
    writeFileSync(join(other, 'onnx', 'model.onnx'), bytes);
    const run = runCli(['rerank', '--model', other, '--query', 'q', '--input', txt]);
    expect(run.status).toBe(3);
    expect(run.stderr).toMatch(/has input pixel_values/);
  });
});

describe('crossrank tokenize', () => {
  it('prints the ids and type ids Hugging Face tokenizers gives', async () => {
    const input = join(dir.path, 'pairs.jsonl');
    const pairs = [
      { query: 'What is a cross-encoder?', document: 'A cross-encoder reads both texts, jointly.' },
      { query: 'Café', document: 'word '.repeat(100) },
    ];
    writeFileSync(input, pairs.map((p) => JSON.stringify(p)).join('\n'));
    const run = runCli(['tokenize', '--model', modelDir, '--input', input, '--max-length', '32']);
    expect(run.status, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { ids: number[]; type_ids: number[] });
    const oracle = Tokenizer.fromFile(join(bertTokenizerDir, 'tokenizer.json'));
    oracle.disablePadding();
    oracle.setTruncation(32);
    for (let i = 0; i < pairs.length; i++) {
      const e = await oracle.encode(pairs[i].query, pairs[i].document);
      expect(lines[i]).toEqual({ ids: e.getIds(), type_ids: e.getTypeIds() });
    }
  });
});

describe('crossrank bench', () => {
  it('reports pairs/s, tokens/s and latency percentiles as JSON', () => {
    const run = runCli(['bench', '--preset', 'tiny', '--tokenizer', bertTokenizerDir, '--queries', '3', '--docs', '10', '--warmup', '1', '--json']);
    expect(run.status, run.stderr).toBe(0);
    const r = JSON.parse(run.stdout);
    expect(r).toMatchObject({ model: 'preset:tiny', backend: 'onnx', device: 'cpu', queries: 3, docsPerQuery: 10 });
    expect(r.pairsPerSecond).toBeGreaterThan(0);
    expect(r.tokensPerSecond).toBeGreaterThan(r.pairsPerSecond);
    expect(r.latencyMs.p50).toBeLessThanOrEqual(r.latencyMs.p99);
    // Per query: the backend calls, the time inside them and the rest.
    expect(r.backendCallsPerQuery).toBeGreaterThanOrEqual(1);
    expect(r.backendMsP50).toBeGreaterThan(0);
    expect(r.backendMsP50).toBeLessThanOrEqual(r.latencyMs.p99);
    expect(r.outsideBackendMsP50).toBeGreaterThanOrEqual(0);
    expect(r.cachedTokensLatencyMs).toBeUndefined();
  });

  it('--cached times the same queries again with their tokens cached', () => {
    const run = runCli(['bench', '--preset', 'tiny', '--tokenizer', bertTokenizerDir, '--queries', '3', '--docs', '10', '--warmup', '1', '--cached']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/\| p50 ms \|/);
    expect(run.stdout).toMatch(/^per query: p50 [\d.]+ ms in [\d.]+ backend calls, [\d.]+ ms outside them/m);
    expect(run.stdout).toMatch(/^same queries, documents' tokens cached: p50 [\d.]+ ms, p95 [\d.]+ ms, p99 [\d.]+ ms; outside the backend p50 [\d.]+ ms$/m);
  });

  it('needs exactly one of --model and --preset', () => {
    expect(runCli(['bench']).status).toBe(2);
    expect(runCli(['bench', '--model', modelDir, '--preset', 'tiny']).status).toBe(2);
  });
});
