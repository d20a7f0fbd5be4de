/**
 * make-model's two weight files agree: the ONNX graph run by onnxruntime-node gives the
 * same logits (within 1e-5, same order) as an independent PyTorch forward pass that reads
 * model.safetensors (scripts/reference/encoder_logits.py), on real query-passage pairs
 * from TREC DL 2019 tokenized by Hugging Face tokenizers. onnx.checker validates the graph.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { Tokenizer } from 'tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { makeModel, type MakeModelOptions } from '../../src/model/make-model.js';
import { bm25Pairs, loadTrecDl } from '../fixtures/trec-dl.js';
import { bertTokenizerDir, repoRoot, tempDir } from '../helpers.js';

const PYTHON = '/usr/bin/python3';
const REFERENCE = join(repoRoot, 'scripts', 'reference', 'encoder_logits.py');
const MAX_LENGTH = 96;
const TOLERANCE = 1e-5;

interface Batch {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
}

/** Real pairs: passages spread over the BM25 rankings of the first queries. */
const realPairs = (count: number) => bm25Pairs(loadTrecDl(), 17, count);

async function tokenize(pairs: [string, string][], padId: number): Promise<Batch> {
  const tokenizer = Tokenizer.fromFile(join(bertTokenizerDir, 'tokenizer.json'));
  tokenizer.disablePadding();
  tokenizer.setTruncation(MAX_LENGTH);
  const encodings = await Promise.all(pairs.map(([q, d]) => tokenizer.encode(q, d)));
  const longest = Math.max(...encodings.map((e) => e.getIds().length));
  const pad = (row: number[], value = 0) => [...row, ...new Array(longest - row.length).fill(value)];
  return {
    input_ids: encodings.map((e) => pad(Array.from(e.getIds()), padId)),
    attention_mask: encodings.map((e) => pad(Array.from(e.getAttentionMask()))),
    token_type_ids: encodings.map((e) => pad(Array.from(e.getTypeIds()))),
  };
}

async function onnxLogits(modelDir: string, batch: Batch): Promise<number[][]> {
  const session = await ort.InferenceSession.create(join(modelDir, 'onnx', 'model.onnx'));
  const rows = batch.input_ids.length;
  const cols = batch.input_ids[0].length;
  const tensor = (m: number[][]) => new ort.Tensor('int64', BigInt64Array.from(m.flat(), BigInt), [rows, cols]);
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of session.inputNames) feeds[name] = tensor(batch[name as keyof Batch]);
  const { logits } = await session.run(feeds);
  const labels = logits.dims[1];
  const data = logits.data as Float32Array;
  await session.release();
  return Array.from({ length: rows }, (_, r) => Array.from(data.slice(r * labels, (r + 1) * labels)));
}

function referenceLogits(modelDir: string, batch: Batch): { logits: number[][]; onnx_check: string } {
  const run = spawnSync(PYTHON, [REFERENCE, modelDir], { input: JSON.stringify(batch), encoding: 'utf8', maxBuffer: 1 << 26 });
  if (run.status !== 0) throw new Error(`reference failed (${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout);
}

const order = (values: number[]) => values.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]).map(([, i]) => i);

function sliceBatch(b: Batch, rows: number): Batch {
  return { input_ids: b.input_ids.slice(0, rows), attention_mask: b.attention_mask.slice(0, rows), token_type_ids: b.token_type_ids.slice(0, rows) };
}

const dir = tempDir();
let fullBatch: Batch;
/** XLM-RoBERTa pads with id 1 and offsets positions past it; BERT's tokenizer pads with 0,
 *  which would make a missing offset invisible. This copy of the tokenizer pads with id 1. */
const robertaStyleTokenizer = join(dir.path, 'tokenizer-pad1');
let robertaBatch: Batch;

beforeAll(async () => {
  if (!existsSync(PYTHON) || spawnSync(PYTHON, ['-c', 'import torch, onnx']).status !== 0) {
    throw new Error(`${PYTHON} with torch and onnx is required (Debian: apt-get install python3-torch python3-onnx)`);
  }
  const pairs = realPairs(24);
  fullBatch = await tokenize(pairs, 0);
  mkdirSync(robertaStyleTokenizer);
  copyFileSync(join(bertTokenizerDir, 'tokenizer.json'), join(robertaStyleTokenizer, 'tokenizer.json'));
  writeFileSync(join(robertaStyleTokenizer, 'tokenizer_config.json'), JSON.stringify({ pad_token: '[unused0]' }));
  robertaBatch = await tokenize(pairs, 1);
});
afterAll(() => dir.cleanup());

// `rows`: how many of the pairs to score (the float64 reference is slow on larger models).
const models: (Omit<MakeModelOptions, 'out' | 'seed'> & { label: string; rows?: number })[] = [
  { label: 'tiny fp32', preset: 'tiny' },
  { label: 'tiny fp16', preset: 'tiny', dtype: 'fp16' },
  { label: 'tiny bf16', preset: 'tiny', dtype: 'bf16' },
  { label: 'tiny 2-class', preset: 'tiny', numLabels: 2 },
  { label: 'tiny-xlmr fp32', preset: 'tiny-xlmr' },
  { label: 'tiny-xlmr 2-class bf16', preset: 'tiny-xlmr', numLabels: 2, dtype: 'bf16' },
  { label: 'minilm-l6 fp32', preset: 'minilm-l6', rows: 8 },
];

describe('make-model: ONNX graph vs PyTorch on model.safetensors', () => {
  it.each(models)('$label', async ({ label, rows, ...options }) => {
    const out = join(dir.path, label.replace(/\W+/g, '-'));
    const roberta = options.preset.includes('xlmr');
    makeModel({ ...options, seed: 11, out, tokenizer: roberta ? robertaStyleTokenizer : bertTokenizerDir });
    if (roberta) expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).pad_token_id).toBe(1);
    const source = roberta ? robertaBatch : fullBatch;
    const batch = sliceBatch(source, rows ?? source.input_ids.length);
    const ortLogits = await onnxLogits(out, batch);
    const reference = referenceLogits(out, batch);
    expect(reference.onnx_check).toBe('ok');
    expect(ortLogits).toHaveLength(batch.input_ids.length);
    let maxDiff = 0;
    ortLogits.forEach((row, r) => row.forEach((v, c) => (maxDiff = Math.max(maxDiff, Math.abs(v - reference.logits[r][c])))));
    expect(maxDiff).toBeLessThanOrEqual(TOLERANCE);
    // Ranking agreement on the last logit column (the relevance logit of 1- and 2-class heads).
    const last = (m: number[][]) => m.map((row) => row[row.length - 1]);
    expect(order(last(ortLogits))).toEqual(order(last(reference.logits)));
    // The synthetic weights must spread logits, or the comparison above would prove little.
    const spread = Math.max(...last(ortLogits)) - Math.min(...last(ortLogits));
    expect(spread).toBeGreaterThan(0.1);
  });
});
