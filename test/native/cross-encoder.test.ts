/** The CrossEncoder API on a synthetic model: results, options, and typed errors on bad input. */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder } from '../../src/cross-encoder.js';
import { BackendUnavailableError, InvalidArgumentError, ModelLoadError } from '../../src/errors.js';
import { makeModel } from '../../src/model/make-model.js';
import { bertTokenizerDir, runCli, sharedDir, tempDir } from '../helpers.js';

const dir = tempDir();
const modelDir = join(dir.path, 'tiny');
let model: CrossEncoder;

const docs = ['the cat sat on the mat', 'quantum chromodynamics', 'cats are small felines', ''];

beforeAll(async () => {
  makeModel({ preset: 'tiny', seed: 9, out: modelDir, tokenizer: bertTokenizerDir });
  model = await CrossEncoder.load(modelDir);
});
afterAll(async () => {
  await model.dispose();
  dir.cleanup();
});

function copyModel(name: string, skip: string[] = []): string {
  const out = join(dir.path, name);
  mkdirSync(join(out, 'onnx'), { recursive: true });
  for (const f of readdirSync(modelDir)) if (f !== 'onnx' && !skip.includes(f)) copyFileSync(join(modelDir, f), join(out, f));
  if (!skip.includes('onnx/model.onnx')) copyFileSync(join(modelDir, 'onnx', 'model.onnx'), join(out, 'onnx', 'model.onnx'));
  return out;
}

describe('CrossEncoder', () => {
  it('describes what it loaded', () => {
    expect(model.info).toMatchObject({
      backend: 'onnx',
      device: 'cpu',
      maxLength: 512,
      tokenizer: 'native-wordpiece',
      head: { numLabels: 1, activation: 'sigmoid', positiveIndex: 0 },
      config: { architecture: 'BertForSequenceClassification', numLabels: 1 },
    });
  });

  it('scores strings and {text} objects alike, in order, all finite', async () => {
    const a = await model.score('cats', docs);
    const b = await model.score('cats', docs.map((text, i) => ({ text, id: i })));
    expect(a).toBeInstanceOf(Float32Array);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a).every((s) => Number.isFinite(s) && s > 0 && s < 1)).toBe(true);
  });

  it('scorePairs equals score for the same pairs, across different queries', async () => {
    const pairs = docs.flatMap((d) => [['cats', d], ['physics', d]] as [string, string][]);
    const byPair = await model.scorePairs(pairs);
    const cats = await model.score('cats', docs);
    const physics = await model.score('physics', docs);
    docs.forEach((_, i) => {
      expect(byPair[2 * i]).toBeCloseTo(cats[i], 6);
      expect(byPair[2 * i + 1]).toBeCloseTo(physics[i], 6);
    });
  });

  it('gives concurrent calls the same scores as one at a time (they share batches)', async () => {
    const queries = ['cats', 'physics', 'mats', 'felines', ''];
    const sequential: Float32Array[] = [];
    for (const q of queries) sequential.push(await model.score(q, docs));
    const concurrent = await Promise.all(queries.map((q) => model.score(q, docs)));
    concurrent.forEach((scores, i) => expect(Array.from(scores)).toEqual(Array.from(sequential[i])));
    await expect(CrossEncoder.load(modelDir, { maxWaitMs: -1 })).rejects.toThrow(/maxWaitMs/);
  });

  it('ranks best first with topN, threshold and documents', async () => {
    const scores = await model.score('cats', docs);
    const ranked = await model.rank('cats', docs, { returnDocuments: true });
    expect(ranked.map((r) => r.score)).toEqual([...scores].sort((x, y) => y - x));
    expect(ranked.every((r) => r.document === docs[r.index])).toBe(true);
    const top2 = await model.rank('cats', docs, { topN: 2 });
    expect(top2).toEqual(ranked.slice(0, 2).map(({ index, score }) => ({ index, score })));
    const threshold = ranked[1].score;
    expect((await model.rank('cats', docs, { threshold })).length).toBe(ranked.filter((r) => r.score >= threshold).length);
  });

  it('returns empty results for an empty document list', async () => {
    expect(await model.score('q', [])).toHaveLength(0);
    expect(await model.rank('q', [])).toEqual([]);
  });

  it('truncates queries and documents far over the limit instead of failing', async () => {
    const huge = 'word '.repeat(20_000);
    const scores = await model.score(huge, [huge, 'short']);
    expect(Array.from(scores).every(Number.isFinite)).toBe(true);
  });

  it('accepts lone surrogates (as U+FFFD) and control characters', async () => {
    const scores = await model.score('bad \ud800 query', ['doc \udfff with \u0000 nul', '\ud83d']);
    expect(Array.from(scores).every(Number.isFinite)).toBe(true);
  });

  it('rejects non-string documents and queries with InvalidArgumentError naming the index', async () => {
    await expect(model.score('q', ['ok', 42 as never])).rejects.toThrow(/documents\[1\] must be a string/);
    await expect(model.score('q', [{ title: 'no text' } as never])).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(model.score('q', 'not an array' as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(model.score(7 as never, ['d'])).rejects.toThrow(/query must be a string/);
    await expect(model.scorePairs([['q']] as never)).rejects.toThrow(/pairs\[0\]/);
    await expect(model.rank('q', docs, { topN: 0 })).rejects.toThrow(/topN/);
  });

  it('validates options at load', async () => {
    await expect(CrossEncoder.load(modelDir, { activation: 'relu' as never })).rejects.toThrow(/activation must be one of/);
    await expect(CrossEncoder.load(modelDir, { activation: 'softmax' })).rejects.toThrow(/softmax needs at least 2 labels/);
    await expect(CrossEncoder.load(modelDir, { truncation: 'only_first' as never })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(CrossEncoder.load(modelDir, { backend: 'tensorflow' as never })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(CrossEncoder.load(modelDir, { batchTokens: 0 })).rejects.toThrow(/batchTokens/);
    await expect(CrossEncoder.load(modelDir, { device: 'tpu' })).rejects.toThrow(/'cpu', 'cuda'/);
    // The native CUDA engine's element type: validated, and refused where the computation is fp32.
    await expect(CrossEncoder.load(modelDir, { backend: 'native', precision: 'bf16' })).rejects.toThrow(
      /precision applies to the native CUDA engine only/,
    );
    await expect(CrossEncoder.load(modelDir, { precision: 'fp16' })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(CrossEncoder.load(modelDir, { backend: 'native', device: 'cuda', precision: 'int8' as never })).rejects.toThrow(
      /precision must be 'bf16' or 'fp16', got "int8"/,
    );
  });

  it('reports CUDA through onnxruntime-node without it as BackendUnavailableError', async () => {
    await expect(CrossEncoder.load(modelDir, { device: 'cuda' })).rejects.toBeInstanceOf(BackendUnavailableError);
  });

  it('honours maxLength (and never exceeds the position limit)', async () => {
    const short = await CrossEncoder.load(modelDir, { maxLength: 16 });
    const long = await CrossEncoder.load(modelDir, { maxLength: 100_000 });
    expect(short.info.maxLength).toBe(16);
    expect(long.info.maxLength).toBe(512);
    await Promise.all([short.dispose(), long.dispose()]);
  });

  it('scores a call of several chunks (each tokenized while the one before runs) as small calls do', async () => {
    const many = Array.from({ length: 700 }, (_, i) => `${docs[i % docs.length]} number ${i}`);
    const whole = await model.score('cats', many);
    const parts: number[] = [];
    for (let i = 0; i < many.length; i += 100) parts.push(...(await model.score('cats', many.slice(i, i + 100))));
    expect(whole).toHaveLength(many.length);
    whole.forEach((s, i) => expect(s).toBeCloseTo(parts[i], 6));
  });

  it('an aborted call of several chunks rejects with the reason, and dispose waits for its queued chunks', async () => {
    const m = await CrossEncoder.load(modelDir);
    const many = Array.from({ length: 900 }, (_, i) => `an abandoned document ${i}`);
    const controller = new AbortController();
    const pending = m.scoreDetailed('cats', many, { signal: controller.signal });
    const batch = new Promise<void>((resolve) => m.onBatch(() => resolve()));
    await batch; // the first chunk is running or done
    controller.abort(new Error('gave up'));
    await expect(pending).rejects.toThrow('gave up');
    await m.dispose();
    expect(m.stats.rows).toBeLessThan(many.length);
  });

  it('throws after dispose, and finishes calls already in flight', async () => {
    const m = await CrossEncoder.load(modelDir);
    const pending = m.score('cats', docs);
    await m.dispose();
    expect(await pending).toHaveLength(docs.length);
    await expect(m.score('cats', docs)).rejects.toThrow(/disposed/);
  });
});

describe('CrossEncoder model variants', () => {
  it("follows sentence-transformers' stored activation, and an explicit override", async () => {
    const out = copyModel('st-identity');
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    config.sentence_transformers = { activation_fn: 'torch.nn.modules.linear.Identity' };
    writeFileSync(join(out, 'config.json'), JSON.stringify(config));
    const raw = await CrossEncoder.load(out);
    expect(raw.info.head.activation).toBe('none');
    const sig = await CrossEncoder.load(out, { activation: 'sigmoid' });
    const [r, p] = [await raw.score('q', ['d']), await sig.score('q', ['d'])];
    expect(p[0]).toBeCloseTo(1 / (1 + Math.exp(-r[0])), 6);
    await Promise.all([raw.dispose(), sig.dispose()]);
  });

  it('loads onnx/model_quantized.onnx when asked', async () => {
    const out = copyModel('quantized');
    await expect(CrossEncoder.load(out, { quantized: true })).rejects.toThrow(/model_quantized.onnx/);
    copyFileSync(join(out, 'onnx', 'model.onnx'), join(out, 'onnx', 'model_quantized.onnx'));
    const m = await CrossEncoder.load(out, { quantized: true });
    expect(await m.score('q', ['d'])).toEqual(await model.score('q', ['d']));
    await m.dispose();
  });

  it('runs a graph named by onnxFile (as variant-only exports need), and says which graphs a model has', async () => {
    const out = copyModel('variants');
    renameSync(join(out, 'onnx', 'model.onnx'), join(out, 'onnx', 'model_q4.onnx'));
    copyFileSync(join(out, 'onnx', 'model_q4.onnx'), join(out, 'onnx', 'model_fp16.onnx'));
    // No default graph: the error lists what there is (and safetensors-less, so no native fallback).
    rmSync(join(out, 'model.safetensors'), { force: true });
    await expect(CrossEncoder.load(out)).rejects.toThrow(/has no onnx\/model.onnx or model.onnx; .* \(it has onnx\/model_fp16.onnx, onnx\/model_q4.onnx: choose one with onnxFile/);
    const m = await CrossEncoder.load(out, { onnxFile: 'onnx/model_q4.onnx' });
    expect(m.info.backend).toBe('onnx');
    expect(await m.score('q', ['d'])).toEqual(await model.score('q', ['d']));
    await m.dispose();
    for (const bad of ['../model.onnx', '/etc/model.onnx', 'onnx/model.bin', '']) {
      await expect(CrossEncoder.load(out, { onnxFile: bad })).rejects.toMatchObject({ code: 'CROSSRANK_INVALID_ARGUMENT' });
    }
    await expect(CrossEncoder.load(out, { onnxFile: 'onnx/model_q4.onnx', quantized: true })).rejects.toThrow(/quantized or onnxFile, not both/);
    const input = join(dir.path, 'variants-docs.txt');
    writeFileSync(input, 'a document\nanother one\n');
    const r = runCli(['rerank', '--model', out, '--query', 'q', '--input', input, '--onnx-file', 'onnx/model_fp16.onnx', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveLength(2);
  });

  it('runs tokenizers other than WordPiece through Hugging Face tokenizers', async () => {
    const out = join(dir.path, 'bpe');
    makeModel({ preset: 'tiny', seed: 9, out, tokenizer: join(sharedDir, 'tokenizers', 'qwen3') });
    const m = await CrossEncoder.load(out);
    expect(m.info.tokenizer).toBe('hf-tokenizers');
    expect(Array.from(await m.score('query', ['a document', ''])).every(Number.isFinite)).toBe(true);
    await m.dispose();
  });
});

describe('CrossEncoder with a calibration profile', () => {
  it('maps every score through the profile and warns when it belongs to another model', async () => {
    const profile = {
      crossrankCalibration: 1 as const,
      calibrator: { method: 'platt' as const, a: 2, b: -1 },
      model: { id: 'some/other-model' },
      relevanceLevel: 1,
      fit: { queries: 1, pairs: 2 },
      heldOut: null,
      thresholds: {},
    };
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const calibrated = await CrossEncoder.load(modelDir, { calibration: profile });
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);
    expect(warnings.some((w) => /fitted for some\/other-model/.test(w))).toBe(true);
    const raw = await model.score('cats', docs);
    const cal = await calibrated.score('cats', docs);
    raw.forEach((r, i) => expect(cal[i]).toBeCloseTo(1 / (1 + Math.exp(-(2 * r - 1))), 6));
    await calibrated.dispose();
    await expect(CrossEncoder.load(modelDir, { calibration: join(dir.path, 'missing.json') })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('CrossEncoder load errors', () => {
  it('a missing directory or bad id', async () => {
    await expect(CrossEncoder.load(join(dir.path, 'nope'))).rejects.toBeInstanceOf(ModelLoadError);
    await expect(CrossEncoder.load('not a valid id!')).rejects.toThrow(/neither an existing directory nor a hub id/);
    await expect(CrossEncoder.load('')).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('a missing ONNX graph, config or tokenizer', async () => {
    // Asked for ONNX Runtime: the graph is missing. (Unasked, the native engine runs the safetensors: default-backend.test.ts.)
    await expect(CrossEncoder.load(copyModel('no-onnx', ['onnx/model.onnx']), { backend: 'onnx' })).rejects.toThrow(/no onnx\/model.onnx or model.onnx/);
    await expect(CrossEncoder.load(copyModel('no-config', ['config.json']))).rejects.toThrow(/no config.json/);
    await expect(CrossEncoder.load(copyModel('no-tok', ['tokenizer.json', 'vocab.txt']))).rejects.toThrow(/no tokenizer/);
  });

  it('corrupt files', async () => {
    const badConfig = copyModel('bad-config');
    writeFileSync(join(badConfig, 'config.json'), '{ not json');
    await expect(CrossEncoder.load(badConfig)).rejects.toThrow(/config.json is not valid JSON/);
    const badOnnx = copyModel('bad-onnx');
    writeFileSync(join(badOnnx, 'onnx', 'model.onnx'), Buffer.alloc(1000, 3));
    await expect(CrossEncoder.load(badOnnx)).rejects.toThrow(ModelLoadError);
    const badTok = copyModel('bad-tok');
    writeFileSync(join(badTok, 'tokenizer.json'), '[1, 2');
    await expect(CrossEncoder.load(badTok)).rejects.toThrow(/tokenizer.json/);
  });

  it('a graph whose output does not match the config', async () => {
    const mismatched = copyModel('mismatch');
    const config = JSON.parse(readFileSync(join(mismatched, 'config.json'), 'utf8'));
    config.id2label = { 0: 'a', 1: 'b', 2: 'c' };
    writeFileSync(join(mismatched, 'config.json'), JSON.stringify(config));
    const m = await CrossEncoder.load(mismatched);
    await expect(m.score('q', ['d'])).rejects.toThrow(/expected float32 \[1, 3\]/);
    await m.dispose();
    rmSync(mismatched, { recursive: true });
  });

  it("the native engine's CUDA backend without a usable GPU is a typed error", async () => {
    const { native } = await import('../../src/native/load.js');
    const cuda = await native().cudaInfo();
    const load = CrossEncoder.load(modelDir, { backend: 'native', device: 'cuda' });
    if (cuda.available) await (await load).dispose();
    else await expect(load).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(CrossEncoder.load(modelDir, { backend: 'native', device: 'tpu' })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
