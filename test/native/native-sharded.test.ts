/**
 * Checkpoints sharded over several safetensors files with model.safetensors.index.json (as
 * transformers saves models past a few GB: Qwen3-Reranker-4B/8B): the native engine scores
 * them exactly as the same weights in one file, and a broken index or shard is a
 * ModelLoadError naming the file and the tensor.
 */
import { copyFileSync, cpSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder } from '../../src/cross-encoder.js';
import { ModelLoadError } from '../../src/errors.js';
import { makeModel } from '../../src/model/make-model.js';
import { parseSafetensorsHeader } from '../../src/model/safetensors.js';
import { bertTokenizerDir, runCli, sharedDir, tempDir } from '../helpers.js';

const dir = tempDir();
const single = join(dir.path, 'tiny');
const sharded = join(dir.path, 'tiny-sharded');
const INDEX = 'model.safetensors.index.json';
const query = 'what is the boiling point of water';
const docs = ['water boils at 100 degrees celsius at sea level', 'the cat sat on the mat', 'boiling points fall with altitude'];
let count = 0;

beforeAll(() => {
  makeModel({ preset: 'tiny', seed: 5, out: single, tokenizer: bertTokenizerDir });
  // ~4 MB of weights in 20 KB shards: the word embeddings alone, then a few tensors per shard.
  makeModel({ preset: 'tiny', seed: 5, out: sharded, tokenizer: bertTokenizerDir, maxShardBytes: 20_000 });
});
afterAll(() => dir.cleanup());

const shardsOf = (d: string) => readdirSync(d).filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
const readIndex = (d: string) => JSON.parse(readFileSync(join(d, INDEX), 'utf8')) as { metadata: { total_size: number }; weight_map: Record<string, string> };

/** A copy of the sharded model, changed by `edit`. */
function variant(edit: (d: string) => void): string {
  const out = join(dir.path, `variant-${count++}`);
  cpSync(sharded, out, { recursive: true });
  rmSync(join(out, 'onnx'), { recursive: true });
  edit(out);
  return out;
}

async function expectLoadError(model: string, pattern: RegExp) {
  const error = await CrossEncoder.load(model, { backend: 'native' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ModelLoadError);
  expect((error as Error).message).toMatch(pattern);
}

/** The native engine scores the model in `many` (sharded) exactly as the same weights in `one` file. */
async function expectSameNativeScores(one: string, many: string): Promise<void> {
  const a = await CrossEncoder.load(one, { backend: 'native' });
  const b = await CrossEncoder.load(many, { backend: 'native' });
  try {
    expect(Array.from(await b.score(query, docs))).toEqual(Array.from(await a.score(query, docs)));
  } finally {
    await a.dispose();
    await b.dispose();
  }
}

describe('sharded safetensors checkpoints', () => {
  it('are written as transformers writes them: shards in tensor order, an index with every tensor', () => {
    expect(readdirSync(sharded)).not.toContain('model.safetensors');
    const shards = shardsOf(sharded);
    expect(shards.length).toBeGreaterThan(2);
    expect(shards[0]).toBe(`model-00001-of-${String(shards.length).padStart(5, '0')}.safetensors`);
    const index = readIndex(sharded);
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(shards));
    // Same tensors as the single file, and the index's total is their size.
    const bytes = readFileSync(join(single, 'model.safetensors'));
    const whole = parseSafetensorsHeader(bytes, bytes.length).tensors;
    expect(Object.keys(index.weight_map).sort()).toEqual([...whole.keys()].sort());
    expect(index.metadata.total_size).toBe([...whole.values()].reduce((n, t) => n + t.data_offsets[1] - t.data_offsets[0], 0));
    // A limit above the total writes one file.
    const one = join(dir.path, 'one');
    makeModel({ preset: 'tiny', seed: 5, out: one, tokenizer: bertTokenizerDir, maxShardBytes: 1e9 });
    expect(readFileSync(join(one, 'model.safetensors')).equals(readFileSync(join(single, 'model.safetensors')))).toBe(true);
  });

  it('score exactly as the same weights in one file (encoder, native CPU reference)', async () => {
    await expectSameNativeScores(single, sharded);
  });

  it('score exactly as one file for an LLM reranker (qwen3-tiny, native decoder), through the CLI too', async () => {
    const tokenizer = join(sharedDir, 'tokenizers', 'qwen3');
    const one = join(dir.path, 'qwen3-one');
    const many = join(dir.path, 'qwen3-sharded');
    makeModel({ preset: 'qwen3-tiny', seed: 3, out: one, tokenizer });
    const made = runCli(['make-model', '--preset', 'qwen3-tiny', '--seed', '3', '--tokenizer', tokenizer, '--out', many, '--max-shard-size', '50KB', '--json']);
    expect(made.status, made.stderr).toBe(0);
    expect(JSON.parse(made.stdout).files).toContain(INDEX);
    expect(shardsOf(many).length).toBeGreaterThan(1);
    await expectSameNativeScores(one, many);
    writeFileSync(join(dir.path, 'docs.txt'), docs.join('\n'));
    const ranked = runCli(['rerank', '--model', many, '--backend', 'native', '--query', query, '--input', join(dir.path, 'docs.txt'), '--json']);
    expect(ranked.status, ranked.stderr).toBe(0);
  });

  it('an index that is not JSON, or has no weight_map', async () => {
    await expectLoadError(variant((d) => writeFileSync(join(d, INDEX), '{"weight_map": ')), /model.safetensors.index.json is not valid JSON/);
    await expectLoadError(variant((d) => writeFileSync(join(d, INDEX), '{"metadata": {}}')), /has no "weight_map" object/);
  });

  it('a shard outside the model directory is refused, not followed', async () => {
    const out = variant((d) => {
      const index = readIndex(d);
      index.weight_map['classifier.bias'] = '../tiny/model.safetensors';
      writeFileSync(join(d, INDEX), JSON.stringify(index));
    });
    await expectLoadError(out, /tensor classifier.bias is mapped to "..\/tiny\/model.safetensors", not a .safetensors file beside the index/);
  });

  it('a missing shard file names the shard', async () => {
    const shard = shardsOf(sharded)[1];
    await expectLoadError(variant((d) => rmSync(join(d, shard))), new RegExp(`names shard ${shard}: cannot open`));
  });

  it('a truncated shard names the shard', async () => {
    const shard = shardsOf(sharded)[0];
    await expectLoadError(
      variant((d) => truncateSync(join(d, shard), readFileSync(join(d, shard)).length - 64)),
      new RegExp(`names shard ${shard}: .*outside the data`),
    );
  });

  it('a tensor mapped to a shard that does not hold it', async () => {
    const out = variant((d) => {
      const index = readIndex(d);
      const shards = shardsOf(d);
      const wrong = shards.find((s) => s !== index.weight_map['classifier.weight'])!;
      index.weight_map['classifier.weight'] = wrong;
      writeFileSync(join(d, INDEX), JSON.stringify(index));
    });
    await expectLoadError(out, /maps tensor classifier.weight to model-\d{5}-of-\d{5}.safetensors, which does not hold it/);
  });

  it('a tensor the index does not map is missing, named with the index', async () => {
    const out = variant((d) => {
      const index = readIndex(d);
      delete index.weight_map['bert.encoder.layer.1.output.dense.weight'];
      writeFileSync(join(d, INDEX), JSON.stringify(index));
    });
    await expectLoadError(out, /model.safetensors.index.json: missing tensor bert.encoder.layer.1.output.dense.weight/);
  });

  it('a wrong shape is named with the shard that holds the tensor', async () => {
    const out = variant((d) => {
      const config = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
      config.intermediate_size = 128;
      writeFileSync(join(d, 'config.json'), JSON.stringify(config));
    });
    await expectLoadError(out, /model-\d{5}-of-\d{5}.safetensors: tensor bert.encoder.layer.0.intermediate.dense.weight has shape/);
  });

  it('model.safetensors is read when both it and an index are present', async () => {
    const out = variant((d) => {
      copyFileSync(join(single, 'model.safetensors'), join(d, 'model.safetensors'));
      writeFileSync(join(d, INDEX), 'not read');
    });
    const m = await CrossEncoder.load(out, { backend: 'native' });
    expect(await m.score(query, docs)).toHaveLength(3);
    await m.dispose();
  });
});
