/**
 * The bi-encoder: EncoderEmbedder (tokenizer + ONNX Runtime + pooling) against an
 * independent PyTorch forward pass on the same synthetic weights (model.safetensors,
 * scripts/reference/encoder_logits.py), for mean and CLS pooling, on real Cranfield texts;
 * then the HNSW retriever over its embeddings.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from 'tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { EncoderEmbedder } from '../../src/embedding/encoder-embedder.js';
import { loadDataset } from '../../src/eval/dataset.js';
import { makeModel } from '../../src/model/make-model.js';
import { HnswRetriever } from '../../src/retrieval/hnsw.js';
import { bertTokenizerDir, repoRoot, sharedDir, tempDir } from '../helpers.js';

const PYTHON = '/usr/bin/python3';
const REFERENCE = join(repoRoot, 'scripts', 'reference', 'encoder_logits.py');
const hasTorch = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch, onnx']).status === 0;

const dir = tempDir();
const meanDir = join(dir.path, 'tiny-embed');
const clsDir = join(dir.path, 'tiny-embed-cls');
let texts: string[];

beforeAll(async () => {
  makeModel({ preset: 'tiny-embed', seed: 5, out: meanDir, tokenizer: bertTokenizerDir });
  makeModel({ preset: 'tiny-embed', seed: 6, out: clsDir, tokenizer: bertTokenizerDir });
  const pooling = join(clsDir, '1_Pooling', 'config.json');
  writeFileSync(pooling, JSON.stringify({ ...JSON.parse(readFileSync(pooling, 'utf8')), pooling_mode_cls_token: true, pooling_mode_mean_tokens: false }));
  const ds = await loadDataset(join(sharedDir, 'data', 'cranfield'));
  texts = [...ds.corpus.values()].slice(0, 40);
  texts.push('', 'flutter', 'ÉCOULEMENT supersonique — Mach 2');
});
afterAll(() => dir.cleanup());

/** The reference's embeddings for texts tokenized by HF tokenizers (independent of ours). */
async function reference(modelDir: string, maxLength: number): Promise<number[][]> {
  const tokenizer = Tokenizer.fromFile(join(bertTokenizerDir, 'tokenizer.json'));
  tokenizer.disablePadding();
  tokenizer.setTruncation(maxLength);
  const enc = await Promise.all(texts.map((t) => tokenizer.encode(t)));
  const longest = Math.max(...enc.map((e) => e.getIds().length));
  const pad = (row: number[]) => [...row, ...new Array(longest - row.length).fill(0)];
  const batch = {
    input_ids: enc.map((e) => pad(Array.from(e.getIds()))),
    attention_mask: enc.map((e) => pad(Array.from(e.getAttentionMask()))),
    token_type_ids: enc.map((e) => pad(Array.from(e.getTypeIds()))),
  };
  const run = spawnSync(PYTHON, [REFERENCE, modelDir], { input: JSON.stringify(batch), encoding: 'utf8', maxBuffer: 1 << 26 });
  if (run.status !== 0) throw new Error(`reference failed: ${run.stderr}`);
  const out = JSON.parse(run.stdout) as { embeddings: number[][]; onnx_check: string };
  expect(out.onnx_check).toBe('ok');
  return out.embeddings;
}

describe.skipIf(!hasTorch)('EncoderEmbedder vs PyTorch on the same weights', () => {
  it.each([['mean', meanDir], ['cls', clsDir]])('%s pooling: within 1e-5, unit length, padding-invariant', async (pooling, modelDir) => {
    const embedder = await EncoderEmbedder.load(modelDir, { maxLength: 128, batchTokens: 2048 });
    try {
      expect(embedder.info.pooling).toBe(pooling);
      expect(embedder.dimension).toBe(32);
      const ours = await embedder.embed(texts);
      const theirs = await reference(modelDir, 128);
      let maxDiff = 0;
      ours.forEach((v, i) => v.forEach((x, j) => (maxDiff = Math.max(maxDiff, Math.abs(x - theirs[i][j])))));
      expect(maxDiff).toBeLessThan(1e-5);
      for (const v of ours) expect(Math.hypot(...v)).toBeCloseTo(1, 5);
      // One at a time (no padding) equals batched.
      const alone = await embedder.embed([texts[3]]);
      alone[0].forEach((x, j) => expect(x).toBeCloseTo(ours[3][j], 5));
    } finally {
      await embedder.dispose();
    }
  });
});

describe.skipIf(!hasTorch)('native engine embeddings (model.safetensors)', () => {
  it.each([['mean', meanDir], ['cls', clsDir]])('%s pooling: equal PyTorch within 1e-5, as the ONNX path does', async (_pooling, modelDir) => {
    const nativeEmbedder = await EncoderEmbedder.load(modelDir, { backend: 'native', maxLength: 128, batchTokens: 2048 });
    try {
      expect(nativeEmbedder.info.backend).toBe('native');
      const ours = await nativeEmbedder.embed(texts);
      const theirs = await reference(modelDir, 128);
      let maxDiff = 0;
      ours.forEach((v, i) => v.forEach((x, j) => (maxDiff = Math.max(maxDiff, Math.abs(x - theirs[i][j])))));
      expect(maxDiff).toBeLessThan(1e-5);
    } finally {
      await nativeEmbedder.dispose();
    }
  });

  it('a cross-encoder is not an embedding model, and an embedding model is not a cross-encoder', async () => {
    const ce = join(dir.path, 'tiny-ce-native');
    makeModel({ preset: 'tiny', seed: 1, out: ce, tokenizer: bertTokenizerDir });
    await expect(EncoderEmbedder.load(ce, { backend: 'native' })).rejects.toThrow(/not an embedding model/);
    const { CrossEncoder } = await import('../../src/cross-encoder.js');
    await expect(CrossEncoder.load(meanDir)).rejects.toThrow(/is an embedding model \(BertModel\), not a cross-encoder/);
    await expect(CrossEncoder.load(meanDir, { backend: 'native' })).rejects.toMatchObject({ code: 'CROSSRANK_MODEL_LOAD' });
  });
});

describe('EncoderEmbedder errors', () => {
  it('a cross-encoder is not an embedder; bad input is typed', async () => {
    const ce = join(dir.path, 'tiny-ce');
    makeModel({ preset: 'tiny', seed: 1, out: ce, tokenizer: bertTokenizerDir });
    await expect(EncoderEmbedder.load(ce)).rejects.toThrow(/gives last_hidden_state \(is this a cross-encoder\?\)/);
    await expect(EncoderEmbedder.load(meanDir, { pooling: 'max' as 'mean' })).rejects.toMatchObject({ code: 'CROSSRANK_INVALID_ARGUMENT' });
    const embedder = await EncoderEmbedder.load(meanDir);
    await expect(embedder.embed([3 as unknown as string])).rejects.toThrow(/texts\[0\] must be a string/);
    expect(await embedder.embed([])).toEqual([]);
    await embedder.dispose();
    await expect(embedder.embed(['x'])).rejects.toThrow(/disposed/);
  });
});

describe('HnswRetriever over EncoderEmbedder', () => {
  it('finds each document by its own text; deletes, replaces, filters, saves and loads', async () => {
    const embedder = await EncoderEmbedder.load(meanDir);
    try {
      const docs = texts.slice(0, 30).map((text, i) => ({ id: `d${i}`, text }));
      const progress: number[] = [];
      const hnsw = new HnswRetriever(embedder, { batchSize: 8, onProgress: (done) => progress.push(done) });
      await hnsw.add(docs);
      expect(progress).toEqual([8, 16, 24, 30]);
      expect(hnsw.size).toBe(30);
      let found = 0;
      for (const d of docs) if ((await hnsw.retrieve(d.text, 1))[0].id === d.id) found++;
      expect(found).toBeGreaterThanOrEqual(29); // exact duplicates in the corpus may swap
      const [hit] = await hnsw.retrieve(docs[4].text, 1);
      expect(hit.score).toBeCloseTo(1, 4);

      expect(await hnsw.remove(['d4', 'nope'])).toBe(1);
      expect((await hnsw.retrieve(docs[4].text, 30)).map((h) => h.id)).not.toContain('d4');
      await hnsw.add([{ id: 'd5', text: docs[4].text }]); // replace d5 with d4's text (reuses the freed slot)
      expect((await hnsw.retrieve(docs[4].text, 1))[0].id).toBe('d5');
      expect(hnsw.size).toBe(29);
      const filtered = await hnsw.retrieve(docs[7].text, 5, { accept: (id) => id !== 'd7' });
      expect(filtered).toHaveLength(5);
      expect(filtered.map((h) => h.id)).not.toContain('d7');

      const saved = join(dir.path, 'hnsw-index');
      await hnsw.save(saved);
      const loaded = await HnswRetriever.load(saved, embedder);
      expect(loaded.size).toBe(29);
      for (const q of [docs[1].text, docs[9].text, 'flutter']) expect(await loaded.retrieve(q, 5)).toEqual(await hnsw.retrieve(q, 5));
      await loaded.add(Array.from({ length: 1100 }, (_, i) => ({ id: `extra${i}`, text: `extra document number ${i}` }))); // past the initial capacity
      expect(loaded.size).toBe(1129);
      await expect(HnswRetriever.load(join(dir.path, 'nowhere'), embedder)).rejects.toMatchObject({ code: 'CROSSRANK_INDEX_LOAD' });
      const wrongDim = { dimension: 8, embed: async (t: readonly string[]) => t.map(() => new Float32Array(8)) };
      await expect(HnswRetriever.load(saved, wrongDim)).rejects.toThrow(/32-dimensional vectors; this embedder gives 8/);
    } finally {
      await embedder.dispose();
    }
  });
});
