/**
 * Corrupt or mismatched model.safetensors files give a ModelLoadError that says what is
 * wrong (and which tensor), from the native loader, and never crash the process.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder } from '../../src/cross-encoder.js';
import { ModelLoadError } from '../../src/errors.js';
import { makeModel } from '../../src/model/make-model.js';
import { bertTokenizerDir, tempDir } from '../helpers.js';

const dir = tempDir();
const modelDir = join(dir.path, 'tiny');
let original: Buffer;
let count = 0;

beforeAll(() => {
  makeModel({ preset: 'tiny', seed: 5, out: modelDir, tokenizer: bertTokenizerDir });
  original = readFileSync(join(modelDir, 'model.safetensors'));
});
afterAll(() => dir.cleanup());

function header(bytes: Buffer): { json: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>; data: Buffer } {
  const length = Number(bytes.readBigUInt64LE(0));
  return { json: JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')), data: bytes.subarray(8 + length) };
}

function withHeader(json: unknown, data: Buffer): Buffer {
  const text = Buffer.from(JSON.stringify(json));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(text.length));
  return Buffer.concat([length, text, data]);
}

/** A copy of the model whose model.safetensors is `bytes`. */
function modelWith(bytes: Buffer): string {
  const out = join(dir.path, `variant-${count++}`);
  mkdirSync(out);
  for (const f of readdirSync(modelDir)) if (f !== 'onnx' && f !== 'model.safetensors') copyFileSync(join(modelDir, f), join(out, f));
  writeFileSync(join(out, 'model.safetensors'), bytes);
  return out;
}

async function expectLoadError(bytes: Buffer, pattern: RegExp) {
  const error = await CrossEncoder.load(modelWith(bytes), { backend: 'native' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ModelLoadError);
  expect((error as Error).message).toMatch(pattern);
}

describe('native loader: corrupt safetensors', () => {
  it('loads the intact file', async () => {
    const m = await CrossEncoder.load(modelWith(original), { backend: 'native' });
    expect(await m.score('q', ['d'])).toHaveLength(1);
    await m.dispose();
  });

  it('truncated file', () => expectLoadError(original.subarray(0, original.length - 100), /outside the data/));

  it('file shorter than the length prefix', () => expectLoadError(original.subarray(0, 5), /too short/));

  it('header length past the end of the file', async () => {
    const bytes = Buffer.from(original);
    bytes.writeBigUInt64LE(BigInt(original.length));
    await expectLoadError(bytes, /header length \d+ exceeds the file/);
  });

  it('header that is not JSON', async () => {
    const bytes = Buffer.from(original);
    bytes.write('{"a":[}', 8); // a broken value at the start of the header
    await expectLoadError(bytes, /not valid JSON/);
  });

  it('overlapping offsets', async () => {
    const { json, data } = header(original);
    const names = Object.keys(json).filter((n) => n !== '__metadata__');
    const [a, b] = [json[names[0]], json[names[1]]];
    b.data_offsets = [a.data_offsets[0], a.data_offsets[0] + (b.data_offsets[1] - b.data_offsets[0])];
    await expectLoadError(withHeader(json, data), /overlap/);
  });

  it('a dtype that cannot hold weights', async () => {
    const { json, data } = header(original);
    const t = json['classifier.bias']; // 1 float = 4 bytes: as I32 the size still matches
    t.dtype = 'I32';
    await expectLoadError(withHeader(json, data), /tensor classifier.bias has dtype I32/);
  });

  it('an unknown dtype', async () => {
    const { json, data } = header(original);
    json['classifier.bias'].dtype = 'F8_E4M3';
    await expectLoadError(withHeader(json, data), /unsupported dtype F8_E4M3/);
  });

  it('a size that does not match dtype and shape', async () => {
    const { json, data } = header(original);
    json['classifier.bias'].shape = [2];
    await expectLoadError(withHeader(json, data), /tensor classifier.bias holds 4 bytes, its dtype and shape need 8/);
  });

  it('a missing tensor', async () => {
    const { json, data } = header(original);
    delete json['bert.encoder.layer.1.output.dense.weight'];
    await expectLoadError(withHeader(json, data), /missing tensor bert.encoder.layer.1.output.dense.weight/);
  });

  it('a shape config.json does not imply', async () => {
    const out = modelWith(original);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    config.intermediate_size = 128;
    writeFileSync(join(out, 'config.json'), JSON.stringify(config));
    const error = await CrossEncoder.load(out, { backend: 'native' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect((error as Error).message).toMatch(/intermediate.dense.weight has shape \[64, 32\], config.json implies \[128, 32\]/);
  });

  it('a config the native engine cannot run', async () => {
    const out = modelWith(original);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    config.architectures = ['ElectraForSequenceClassification'];
    writeFileSync(join(out, 'config.json'), JSON.stringify(config));
    await expect(CrossEncoder.load(out, { backend: 'native' })).rejects.toThrow(/native engine runs .*this model is ElectraForSequenceClassification/);
    config.architectures = ['BertForSequenceClassification'];
    config.hidden_act = 'relu';
    writeFileSync(join(out, 'config.json'), JSON.stringify(config));
    await expect(CrossEncoder.load(out, { backend: 'native' })).rejects.toThrow(/hidden_act relu/);
  });

  it('a missing model.safetensors', async () => {
    const out = modelWith(original);
    (await import('node:fs')).rmSync(join(out, 'model.safetensors'));
    await expect(CrossEncoder.load(out, { backend: 'native' })).rejects.toThrow(/has no model.safetensors or model.safetensors.index.json; the native engine/);
    writeFileSync(join(out, 'pytorch_model.bin'), 'a pickle');
    await expect(CrossEncoder.load(out, { backend: 'native' })).rejects.toThrow(/it has pytorch_model.bin, a PyTorch pickle, which crossrank does not read: .*save_pretrained/);
  });
});
