/**
 * `crossrank rerank` scores equal an independent reference: Hugging Face tokenizers for the
 * ids and a plain PyTorch forward pass over model.safetensors
 * (scripts/reference/encoder_logits.py), within 1e-4, for several batch sizes with mixed
 * lengths in one batch (padding must not change any score).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from 'tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { makeModel } from '../../src/model/make-model.js';
import { loadTrecDl } from '../fixtures/trec-dl.js';
import { bertTokenizerDir, repoRoot, runCli, sharedDir, tempDir } from '../helpers.js';

const MAX_LENGTH = 96;
const dir = tempDir();
const docsFile = join(dir.path, 'docs.jsonl');
let query = '';
let docs: string[] = [];

beforeAll(() => {
  const data = loadTrecDl();
  const [qid, ranking] = [...data.bm25][0];
  query = data.queries.get(qid)!;
  docs = ranking.slice(0, 30).map((id) => data.passages.get(id)!);
  // Mixed lengths: a few very short documents, one empty, one far over the limit.
  docs.push('short', '', 'a b c', `${docs[0]} `.repeat(20));
  writeFileSync(docsFile, docs.map((text) => JSON.stringify({ text })).join('\n'));
});
afterAll(() => dir.cleanup());

async function referenceScores(modelDir: string, activation: (row: number[]) => number): Promise<number[]> {
  const tokenizer = Tokenizer.fromFile(join(modelDir, 'tokenizer.json'));
  tokenizer.disablePadding();
  tokenizer.setTruncation(MAX_LENGTH);
  const encodings = await Promise.all(docs.map((d) => tokenizer.encode(query, d)));
  const longest = Math.max(...encodings.map((e) => e.getIds().length));
  const pad = (row: number[]) => [...row, ...new Array(longest - row.length).fill(0)];
  const batch = {
    input_ids: encodings.map((e) => pad(Array.from(e.getIds()))),
    attention_mask: encodings.map((e) => pad(Array.from(e.getAttentionMask()))),
    token_type_ids: encodings.map((e) => pad(Array.from(e.getTypeIds()))),
  };
  const run = spawnSync('/usr/bin/python3', [join(repoRoot, 'scripts', 'reference', 'encoder_logits.py'), modelDir], {
    input: JSON.stringify(batch),
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (run.status !== 0) throw new Error(run.stderr);
  return (JSON.parse(run.stdout).logits as number[][]).map(activation);
}

function rerank(modelDir: string, batchTokens: number, extra: string[] = []): number[] {
  const run = runCli([
    'rerank', '--model', modelDir, '--query', query, '--input', docsFile, '--json',
    '--max-length', String(MAX_LENGTH), '--batch-tokens', String(batchTokens), ...extra,
  ]);
  expect(run.status, run.stderr).toBe(0);
  const ranked = JSON.parse(run.stdout) as { index: number; score: number; text: string }[];
  expect(ranked).toHaveLength(docs.length);
  for (let i = 1; i < ranked.length; i++) expect(ranked[i - 1].score).toBeGreaterThanOrEqual(ranked[i].score);
  const scores = new Array<number>(docs.length);
  for (const r of ranked) {
    expect(r.text).toBe(docs[r.index]);
    scores[r.index] = r.score;
  }
  return scores;
}

const sigmoid = (row: number[]) => 1 / (1 + Math.exp(-row[0]));
const softmax1 = (row: number[]) => 1 / (1 + Math.exp(row[0] - row[1]));

describe('crossrank rerank vs PyTorch reference', () => {
  const cases = [
    { preset: 'tiny', numLabels: 1, activation: sigmoid, extra: [] as string[] },
    { preset: 'tiny', numLabels: 2, activation: softmax1, extra: [] },
    { preset: 'tiny', numLabels: 1, activation: (row: number[]) => row[0], extra: ['--activation', 'none'] },
    { preset: 'tiny-xlmr', numLabels: 1, activation: sigmoid, extra: [] },
    { preset: 'minilm-l6', numLabels: 1, activation: sigmoid, extra: [] },
    // A byte-level BPE tokenizer (Qwen3's) goes through Hugging Face tokenizers, not the native path.
    { preset: 'tiny', numLabels: 1, activation: sigmoid, extra: [], tokenizer: 'qwen3' },
  ];
  it.each(cases)('$preset, $numLabels label(s) $extra, tokenizer $tokenizer: equal within 1e-4 at every batch size', async (c) => {
    const modelDir = join(dir.path, `${c.preset}-${c.numLabels}-${c.extra.join('')}-${c.tokenizer ? 'bpe' : 'wp'}`);
    makeModel({ preset: c.preset, seed: 3, out: modelDir, tokenizer: c.tokenizer ? join(sharedDir, 'tokenizers', c.tokenizer) : bertTokenizerDir, numLabels: c.numLabels });
    const reference = await referenceScores(modelDir, c.activation);
    const perBatchSize = [MAX_LENGTH, 700, 100_000].map((tokens) => rerank(modelDir, tokens, c.extra));
    for (const scores of perBatchSize) {
      const diff = Math.max(...scores.map((s, i) => Math.abs(s - reference[i])));
      expect(diff).toBeLessThanOrEqual(1e-4);
    }
    // Padding and batch composition must not change a score.
    const [one, some, all] = perBatchSize;
    expect(Math.max(...one.map((s, i) => Math.abs(s - all[i])))).toBeLessThanOrEqual(1e-5);
    expect(Math.max(...some.map((s, i) => Math.abs(s - all[i])))).toBeLessThanOrEqual(1e-5);
    // Same order as the reference (ties aside).
    const order = (v: number[]) => v.map((s, i) => [s, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).map((p) => p[1]);
    expect(order(all)).toEqual(order(reference));
    // minilm-l6 runs the CLI three times over every pair: near a minute on a 2-core VM.
  }, 240_000);
});
