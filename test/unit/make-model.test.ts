import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { InvalidArgumentError } from '../../src/errors.js';
import { encoderParameters } from '../../src/model/encoder-parameters.js';
import { makeModel } from '../../src/model/make-model.js';
import { presets } from '../../src/model/presets.js';
import { parseSafetensorsHeader } from '../../src/model/safetensors.js';
import { bertTokenizerDir, runCli, tempDir } from '../helpers.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

function digest(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (sub: string) => {
    for (const e of readdirSync(join(root, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${e.name}` : e.name;
      if (e.isDirectory()) walk(rel);
      else out[rel] = createHash('sha256').update(readFileSync(join(root, rel))).digest('hex');
    }
  };
  walk('');
  return out;
}

const BERT_VOCAB = 30522;

describe('make-model layout', () => {
  it('writes the Hugging Face layout for a BERT classifier', () => {
    const out = join(dir.path, 'tiny');
    const result = makeModel({ preset: 'tiny', seed: 7, out, tokenizer: bertTokenizerDir });
    expect(result.files).toEqual([
      'config.json',
      'model.safetensors',
      'onnx/model.onnx',
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'vocab.txt',
    ]);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      architectures: ['BertForSequenceClassification'],
      model_type: 'bert',
      hidden_size: 32,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      intermediate_size: 64,
      max_position_embeddings: 512,
      type_vocab_size: 2,
      vocab_size: BERT_VOCAB,
      pad_token_id: 0,
      hidden_act: 'gelu',
      layer_norm_eps: 1e-12,
      id2label: { '0': 'LABEL_0' },
      torch_dtype: 'float32',
    });
    expect(Object.keys(config)).toEqual([...Object.keys(config)].sort());

    const bytes = readFileSync(join(out, 'model.safetensors'));
    const header = parseSafetensorsHeader(bytes, bytes.length);
    const expected = encoderParameters({ ...presets.tiny, vocabSize: BERT_VOCAB });
    expect([...header.tensors.keys()].sort()).toEqual(expected.map((p) => p.name).sort());
    for (const p of expected) expect(header.tensors.get(p.name)).toMatchObject({ dtype: 'F32', shape: p.shape });
    expect(header.tensors.get('bert.encoder.layer.1.intermediate.dense.weight')!.shape).toEqual([64, 32]);
    expect(header.tensors.get('classifier.weight')!.shape).toEqual([1, 32]);
    expect(readFileSync(join(out, 'tokenizer.json')).equals(readFileSync(join(bertTokenizerDir, 'tokenizer.json')))).toBe(true);
  });

  it('writes the XLM-RoBERTa layout: roberta.* names, one token type, classifier.dense/out_proj', () => {
    const out = join(dir.path, 'xlmr');
    makeModel({ preset: 'tiny-xlmr', seed: 7, out, tokenizer: bertTokenizerDir, numLabels: 2 });
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      architectures: ['XLMRobertaForSequenceClassification'],
      model_type: 'xlm-roberta',
      max_position_embeddings: 514,
      type_vocab_size: 1,
      id2label: { '0': 'LABEL_0', '1': 'LABEL_1' },
    });
    const bytes = readFileSync(join(out, 'model.safetensors'));
    const names = [...parseSafetensorsHeader(bytes, bytes.length).tensors.keys()];
    expect(names).toContain('roberta.embeddings.token_type_embeddings.weight');
    expect(names).toContain('classifier.out_proj.weight');
    expect(names).not.toContain('roberta.pooler.dense.weight');
    expect(names.every((n) => n.startsWith('roberta.') || n.startsWith('classifier.'))).toBe(true);
  });

  it.each(['fp16', 'bf16'] as const)('stores %s weights with the matching dtype', (dtype) => {
    const out = join(dir.path, `tiny-${dtype}`);
    makeModel({ preset: 'tiny', seed: 7, out, tokenizer: bertTokenizerDir, dtype });
    const bytes = readFileSync(join(out, 'model.safetensors'));
    const header = parseSafetensorsHeader(bytes, bytes.length);
    for (const entry of header.tensors.values()) expect(entry.dtype).toBe(dtype === 'fp16' ? 'F16' : 'BF16');
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).torch_dtype).toBe(dtype === 'fp16' ? 'float16' : 'bfloat16');
  });
});

describe('make-model determinism', () => {
  it('gives byte-identical files for the same seed and different weights for another seed', () => {
    const a = join(dir.path, 'det-a');
    const b = join(dir.path, 'det-b');
    const c = join(dir.path, 'det-c');
    makeModel({ preset: 'tiny', seed: 42, out: a, tokenizer: bertTokenizerDir });
    makeModel({ preset: 'tiny', seed: 42, out: b, tokenizer: bertTokenizerDir });
    makeModel({ preset: 'tiny', seed: 43, out: c, tokenizer: bertTokenizerDir });
    expect(digest(a)).toEqual(digest(b));
    const dc = digest(c);
    const da = digest(a);
    expect(dc['model.safetensors']).not.toBe(da['model.safetensors']);
    expect(dc['onnx/model.onnx']).not.toBe(da['onnx/model.onnx']);
  });

  it('is byte-identical between the CLI and the API (a separate process)', () => {
    const api = join(dir.path, 'det-api');
    const cli = join(dir.path, 'det-cli');
    makeModel({ preset: 'tiny-xlmr', seed: 5, out: api, tokenizer: bertTokenizerDir, dtype: 'bf16' });
    const run = runCli(['make-model', '--preset', 'tiny-xlmr', '--seed', '5', '--out', cli, '--tokenizer', bertTokenizerDir, '--dtype', 'bf16']);
    expect(run.status, run.stderr).toBe(0);
    expect(digest(cli)).toEqual(digest(api));
  });
});

describe('make-model errors', () => {
  it('rejects unknown presets, bad seeds and bad dtypes with InvalidArgumentError', () => {
    const out = join(dir.path, 'never');
    expect(() => makeModel({ preset: 'huge', seed: 1, out })).toThrow(InvalidArgumentError);
    expect(() => makeModel({ preset: 'tiny', seed: -1, out })).toThrow(/seed/);
    expect(() => makeModel({ preset: 'tiny', seed: 1.5, out })).toThrow(/seed/);
    expect(() => makeModel({ preset: 'tiny', seed: 1, out, dtype: 'fp8' as never })).toThrow(/dtype/);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses to overwrite a non-empty directory unless forced, and leaves it intact', () => {
    const out = join(dir.path, 'occupied');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'mine');
    expect(() => makeModel({ preset: 'tiny', seed: 1, out, tokenizer: bertTokenizerDir })).toThrow(/--force/);
    expect(readFileSync(join(out, 'keep.txt'), 'utf8')).toBe('mine');
    makeModel({ preset: 'tiny', seed: 1, out, tokenizer: bertTokenizerDir, force: true });
    expect(existsSync(join(out, 'keep.txt'))).toBe(false);
    expect(existsSync(join(out, 'model.safetensors'))).toBe(true);
  });

  it('reports a missing tokenizer as ModelLoadError and leaves no temporary directory', () => {
    const out = join(dir.path, 'no-tokenizer');
    expect(() => makeModel({ preset: 'tiny', seed: 1, out, tokenizer: join(dir.path, 'nowhere') })).toThrow(/neither tokenizer.json nor vocab.txt/);
    expect(readdirSync(dir.path).some((n) => n.includes('.tmp-'))).toBe(false);
  });

  it('exits with the invalid-argument code on the CLI', () => {
    const run = runCli(['make-model', '--preset', 'nope', '--out', join(dir.path, 'cli-bad')]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/unknown preset "nope".*CROSSRANK_INVALID_ARGUMENT/);
    const seed = runCli(['make-model', '--preset', 'tiny', '--seed', 'abc', '--out', join(dir.path, 'cli-bad')]);
    expect(seed.status).toBe(2);
    expect(seed.stderr).toMatch(/--seed must be an integer >= 0/);
  });
});
