/**
 * `exportOnnx` / `crossrank export-onnx`: an ONNX graph written from a Qwen3 reranker's
 * safetensors. The graph from the F32 checkpoint is byte-for-byte the one make-model writes
 * (which qwen3-parity.test.ts checks against an independent PyTorch forward pass); from a
 * BF16 checkpoint in shards — how Qwen3-Reranker ships — ONNX Runtime on the exported graph
 * scores real TREC DL pairs as the native engine scores the same checkpoint.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder } from '../../src/cross-encoder.js';
import { InvalidArgumentError, ModelLoadError } from '../../src/errors.js';
import { CheckpointReader } from '../../src/model/checkpoint-reader.js';
import { makeModel } from '../../src/model/make-model.js';
import { makeQwen3Model } from '../../src/model/qwen3.js';
import { writeCheckpoint } from '../../src/model/safetensors.js';
import { exportOnnx } from '../../src/onnx/export-onnx.js';
import { bm25Pairs, loadTrecDl } from '../fixtures/trec-dl.js';
import { bertTokenizerDir, compareTopK, runCli, sharedDir, tempDir } from '../helpers.js';

const qwenTokenizer = join(sharedDir, 'tokenizers', 'qwen3');
const dir = tempDir();
const made = join(dir.path, 'made');
afterAll(() => dir.cleanup());

/** A copy of a model directory without its ONNX graph. */
function withoutGraph(name: string, source = made): string {
  const out = join(dir.path, name);
  rmSync(out, { recursive: true, force: true });
  cpSync(source, out, { recursive: true });
  rmSync(join(out, 'onnx'), { recursive: true, force: true });
  return out;
}

/** `source`'s checkpoint rewritten in `dtype`, sharded over files of at most `maxShardBytes`. */
function rewritten(name: string, dtype: 'BF16' | 'F16', maxShardBytes: number): string {
  const out = withoutGraph(name);
  const reader = CheckpointReader.open(out);
  const tensors = reader.names().map((n) => ({ name: n, shape: reader.shape(n)!, data: reader.read(n) }));
  reader.close();
  rmSync(join(out, 'model.safetensors'));
  writeCheckpoint(out, tensors, dtype, maxShardBytes);
  return out;
}

beforeAll(() => {
  makeQwen3Model({ preset: 'qwen3-tiny', seed: 11, out: made, tokenizer: qwenTokenizer });
}, 120_000);

describe('exportOnnx', () => {
  it('writes, from the F32 checkpoint, the graph make-model writes, inline or with external weights', () => {
    const inline = withoutGraph('inline');
    const result = exportOnnx(inline);
    expect(result.files).toEqual(['onnx/model.onnx']);
    expect(readFileSync(join(inline, 'onnx', 'model.onnx')).equals(readFileSync(join(made, 'onnx', 'model.onnx')))).toBe(true);

    const externalMade = join(dir.path, 'made-external');
    makeQwen3Model({ preset: 'qwen3-tiny', seed: 11, out: externalMade, tokenizer: qwenTokenizer, onnxExternalData: true });
    const external = withoutGraph('external');
    expect(exportOnnx(external, { externalData: true }).files).toEqual(['onnx/model.onnx', 'onnx/model.onnx_data']);
    for (const file of ['model.onnx', 'model.onnx_data']) {
      expect(readFileSync(join(external, 'onnx', file)).equals(readFileSync(join(externalMade, 'onnx', file))), file).toBe(true);
    }
    // No temporary directory is left behind.
    expect(existsSync(join(external, `.onnx-export-${process.pid}`))).toBe(false);
  });

  it('from a sharded BF16 checkpoint: ONNX Runtime on the graph scores as the native engine on the checkpoint', async () => {
    const model = rewritten('bf16-sharded', 'BF16', 2_000_000);
    expect(existsSync(join(model, 'model.safetensors.index.json'))).toBe(true);
    const progress: number[] = [];
    exportOnnx(model, { onProgress: (fraction) => progress.push(fraction) });
    expect(progress.at(-1)).toBe(1);
    expect(progress.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= progress[i - 1]))).toBe(true);

    // No backend named: the graph is there now, so ONNX Runtime runs it.
    const onnx = await CrossEncoder.load(model, { maxLength: 256 });
    const reference = await CrossEncoder.load(model, { backend: 'native', maxLength: 256 });
    expect(onnx.info.backend).toBe('onnx');
    const data = loadTrecDl();
    let maxDiff = 0;
    for (const [query] of bm25Pairs(data, 29, 3)) {
      const docs = bm25Pairs(data, 7, 20).map(([, doc]) => doc);
      const rawA = (await onnx.scoreDetailed(query, docs, { raw: true })).scores;
      const rawB = (await reference.scoreDetailed(query, docs, { raw: true })).scores;
      rawA.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - rawB[i]))));
      expect(compareTopK(rawB, rawA, 10, 1e-4).upToTies).toBe(true);
    }
    expect(maxDiff).toBeLessThan(1e-4);
    await onnx.dispose();
    await reference.dispose();
  }, 120_000);

  it('reads F16 checkpoints too (the values the native engine reads)', async () => {
    const model = rewritten('f16', 'F16', Infinity);
    exportOnnx(model, { output: 'vocabulary' });
    const onnx = await CrossEncoder.load(model, { backend: 'onnx', maxLength: 256 });
    const reference = await CrossEncoder.load(model, { backend: 'native', maxLength: 256 });
    const docs = bm25Pairs(loadTrecDl(), 13, 8).map(([, doc]) => doc);
    const a = await onnx.score('what is a cross-encoder', docs);
    const b = await reference.score('what is a cross-encoder', docs);
    a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThan(1e-4));
    await onnx.dispose();
    await reference.dispose();
  }, 120_000);

  it('refuses what it cannot export, naming the problem', () => {
    const encoder = join(dir.path, 'encoder');
    makeModel({ preset: 'tiny', seed: 1, out: encoder, tokenizer: bertTokenizerDir });
    expect(() => exportOnnx(encoder)).toThrow(InvalidArgumentError);
    expect(() => exportOnnx(encoder)).toThrow(/BertForSequenceClassification.*Qwen3/);

    // An existing graph is kept unless force is given.
    expect(() => exportOnnx(made)).toThrow(/exists; pass force/);
    const forced = withoutGraph('forced');
    exportOnnx(forced, { externalData: true });
    exportOnnx(forced, { force: true });
    expect(existsSync(join(forced, 'onnx', 'model.onnx_data'))).toBe(false); // the stale external weights went with the old graph

    expect(() => exportOnnx(made, { force: true, output: 'logits' as 'vocabulary' })).toThrow(InvalidArgumentError);

    // A checkpoint short of a tensor, or with one of the wrong shape, names it.
    const reader = CheckpointReader.open(made);
    const all = reader.names().map((n) => ({ name: n, shape: reader.shape(n)!, data: reader.read(n) }));
    reader.close();
    const missing = withoutGraph('missing');
    writeCheckpoint(missing, all.filter((t) => t.name !== 'model.layers.1.mlp.up_proj.weight'), 'F32');
    expect(() => exportOnnx(missing)).toThrow(ModelLoadError);
    expect(() => exportOnnx(missing)).toThrow(/has no model\.layers\.1\.mlp\.up_proj\.weight/);
    const misshapen = withoutGraph('misshapen');
    writeCheckpoint(
      misshapen,
      all.map((t) => (t.name === 'model.norm.weight' ? { ...t, shape: [t.shape[0] / 2, 2] } : t)),
      'F32',
    );
    expect(() => exportOnnx(misshapen)).toThrow(/model\.norm\.weight is \[16,2\], config\.json implies \[32\]/);
    expect(existsSync(join(misshapen, 'onnx'))).toBe(false);

    // Integer weights (the header is valid; the export reads F32, F16 and BF16).
    const integer = withoutGraph('integer');
    const bytes = readFileSync(join(integer, 'model.safetensors'));
    const at = bytes.indexOf('"model.norm.weight":{"dtype":"F32"');
    expect(at).toBeGreaterThan(0);
    bytes.write('"model.norm.weight":{"dtype":"I32"', at);
    writeFileSync(join(integer, 'model.safetensors'), bytes);
    expect(() => exportOnnx(integer)).toThrow(/model\.norm\.weight is I32; F32, F16 and BF16 weights are read/);

    // A model directory that cannot take the graph: a typed error naming it, nothing left behind.
    const blocked = withoutGraph('blocked');
    writeFileSync(join(blocked, 'onnx'), 'not a directory');
    expect(() => exportOnnx(blocked)).toThrow(InvalidArgumentError);
    expect(() => exportOnnx(blocked)).toThrow(/cannot write the ONNX graph into .*blocked/);
    expect(existsSync(join(blocked, `.onnx-export-${process.pid}`))).toBe(false);

    // A config the graph would compute wrongly is refused as the native engine refuses it.
    const windowed = withoutGraph('windowed');
    const config = JSON.parse(readFileSync(join(windowed, 'config.json'), 'utf8'));
    writeFileSync(join(windowed, 'config.json'), JSON.stringify({ ...config, use_sliding_window: true, max_window_layers: 0, sliding_window: 16 }));
    expect(() => exportOnnx(windowed)).toThrow(/sliding-window attention .* not supported by crossrank's ONNX export/);
  }, 120_000);

  it('runs from the CLI, printing JSON on request and a coded error on bad input', () => {
    const model = withoutGraph('cli');
    const run = runCli(['export-onnx', model, '--json']);
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.files).toEqual(['onnx/model.onnx']);
    expect(statSync(join(model, 'onnx', 'model.onnx')).size).toBeGreaterThan(0);
    const again = runCli(['export-onnx', model]);
    expect(again.status).toBe(2);
    expect(again.stderr).toContain('CROSSRANK_INVALID_ARGUMENT');
    const bad = runCli(['export-onnx', model, '--force', '--output', 'everything']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--output must be yes-no or vocabulary/);
    mkdirSync(join(dir.path, 'empty'));
    const empty = runCli(['export-onnx', join(dir.path, 'empty')]);
    expect(empty.stderr).toMatch(/has no config\.json/);
    // A hub id is resolved through the hub cache (test/native/hub.test.ts); offline and absent, it says so.
    const absent = runCli(['export-onnx', 'crossrank-test/absent'], { HF_HUB_OFFLINE: '1', HF_HUB_CACHE: join(dir.path, 'no-cache') });
    expect(absent.stderr).toMatch(/crossrank-test\/absent@main is not in the hub cache/);
    expect(() => exportOnnx(join(dir.path, 'nowhere'))).toThrow(/is not a directory; export-onnx writes into a model's directory/);
  });
});
