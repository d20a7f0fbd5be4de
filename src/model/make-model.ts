/**
 * Writes a synthetic model directory in the Hugging Face layout: config.json,
 * model.safetensors, onnx/model.onnx and the tokenizer files, with seeded random weights.
 * The same preset, seed, dtype and tokenizer always give byte-identical files.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

import { InvalidArgumentError } from '../errors.js';
import { buildEncoderGraph } from '../onnx/encoder-graph.js';
import { packageVersion } from '../package-info.js';
import { bfloat16BitsToFloat, float16BitsToFloat, floatToBfloat16Bits, floatToFloat16Bits } from '../util/half.js';
import { hashString, Rng } from '../util/rng.js';
import { encoderParameters, type EncoderDims, type ParameterSpec } from './encoder-parameters.js';
import { encoderConfig, type WeightDtype } from './hf-config.js';
import { presetNames, presets, type PresetName } from './presets.js';
import { isQwen3Preset, makeQwen3Model } from './qwen3.js';
import { writeCheckpoint, type SafetensorsDtype } from './safetensors.js';
import { defaultTokenizerDir, readTokenizerFacts, TOKENIZER_FILES } from './tokenizer-files.js';

export interface MakeModelOptions {
  preset: string;
  seed: number;
  out: string;
  /** Directory with tokenizer.json and/or vocab.txt; default: the shared bert-base-uncased. */
  tokenizer?: string;
  dtype?: WeightDtype;
  /** Override the preset's number of labels (1 = single logit, 2 = 2-class head). */
  numLabels?: number;
  /** Replace an existing output directory. */
  force?: boolean;
  /** Shard the weights over files of at most this many bytes with an index, as transformers saves large models (default: one file). */
  maxShardBytes?: number;
  /** Called as weights are generated: fraction done in [0, 1]. */
  onProgress?: (fraction: number, stage: string) => void;
}

export interface MakeModelResult {
  dir: string;
  files: string[];
  parameters: number;
  /** The encoder's shape (absent for the decoder presets, qwen3-*). */
  dims?: EncoderDims;
}

const safetensorsDtype: Record<WeightDtype, SafetensorsDtype> = { fp32: 'F32', fp16: 'F16', bf16: 'BF16' };

function initialise(spec: ParameterSpec, seed: number, dtype: WeightDtype): Float32Array {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(count);
  const rng = new Rng(seed, hashString(spec.name));
  const fanIn = spec.shape[spec.shape.length - 1];
  const [scale, shift] = {
    embedding: [0.02, 0],
    linear: [1 / Math.sqrt(fanIn), 0],
    bias: [0.05, 0],
    'ln-weight': [0.1, 1],
    'ln-bias': [0.05, 0],
  }[spec.init];
  for (let i = 0; i < count; i++) values[i] = shift + scale * rng.normal();
  // Round through the stored dtype so the fp32 ONNX graph holds exactly the stored values.
  if (dtype === 'fp16') for (let i = 0; i < count; i++) values[i] = float16BitsToFloat(floatToFloat16Bits(values[i]));
  if (dtype === 'bf16') for (let i = 0; i < count; i++) values[i] = bfloat16BitsToFloat(floatToBfloat16Bits(values[i]));
  return values;
}

function validate(options: MakeModelOptions): { preset: PresetName; dtype: WeightDtype } {
  if (!(options.preset in presets)) {
    throw new InvalidArgumentError(`unknown preset ${JSON.stringify(options.preset)}; choose one of ${presetNames.join(', ')}`);
  }
  if (!Number.isSafeInteger(options.seed) || options.seed < 0 || options.seed > 0xffffffff) {
    throw new InvalidArgumentError(`seed must be an integer in [0, 2^32), got ${options.seed}`);
  }
  const dtype = options.dtype ?? 'fp32';
  if (!(dtype in safetensorsDtype)) throw new InvalidArgumentError(`dtype must be fp32, fp16 or bf16, got ${dtype}`);
  if (options.numLabels !== undefined && (!Number.isInteger(options.numLabels) || options.numLabels < 1 || options.numLabels > 1024)) {
    throw new InvalidArgumentError(`numLabels must be an integer in [1, 1024], got ${options.numLabels}`);
  }
  if (!options.out) throw new InvalidArgumentError('an output directory is required');
  const out = resolve(options.out);
  if (existsSync(out) && readdirSync(out).length > 0 && !options.force) {
    throw new InvalidArgumentError(`${out} exists and is not empty; pass --force to replace it`);
  }
  return { preset: options.preset as PresetName, dtype };
}

export function makeModel(options: MakeModelOptions): MakeModelResult {
  const shard = options.maxShardBytes;
  if (shard !== undefined && !(Number.isSafeInteger(shard) && shard > 0)) {
    throw new InvalidArgumentError(`maxShardBytes must be a positive integer, got ${shard}`);
  }
  if (isQwen3Preset(options.preset)) {
    // Decoder rerankers (Qwen3-Reranker layout): fp32, their own tokenizer family.
    if (options.dtype !== undefined && options.dtype !== 'fp32') throw new InvalidArgumentError(`${options.preset} is written in fp32 only`);
    if (options.numLabels !== undefined) throw new InvalidArgumentError(`${options.preset} scores with its yes/no tokens; numLabels does not apply`);
    const out = resolve(options.out);
    if (existsSync(out) && readdirSync(out).length > 0 && !options.force) throw new InvalidArgumentError(`${out} exists and is not empty; pass --force to replace it`);
    const r = makeQwen3Model({
      preset: options.preset,
      seed: options.seed,
      out,
      tokenizer: resolve(options.tokenizer ?? defaultTokenizerDir('qwen3')),
      maxShardBytes: options.maxShardBytes,
    });
    return { dir: r.dir, files: listFiles(r.dir), parameters: r.parameters };
  }
  const { preset, dtype } = validate(options);
  const tokenizerDir = resolve(options.tokenizer ?? defaultTokenizerDir());
  const facts = readTokenizerFacts(tokenizerDir);
  const dims: EncoderDims = {
    ...presets[preset],
    numLabels: options.numLabels ?? presets[preset].numLabels,
    vocabSize: facts.vocabSize,
  };
  const progress = options.onProgress ?? (() => {});

  // Write everything into a sibling temporary directory, then move it into place, so an
  // interrupted run never leaves a half-written model behind.
  const out = resolve(options.out);
  const temp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}`);
  rmSync(temp, { recursive: true, force: true });
  mkdirSync(join(temp, 'onnx'), { recursive: true });
  try {
    const specs = encoderParameters(dims);
    const total = specs.reduce((sum, s) => sum + s.shape.reduce((a, b) => a * b, 1), 0);
    const weights = new Map<string, Float32Array>();
    let done = 0;
    for (const spec of specs) {
      weights.set(spec.name, initialise(spec, options.seed, dtype));
      done += weights.get(spec.name)!.length;
      progress(done / total, 'weights');
    }

    const config = encoderConfig(dims, {
      padTokenId: facts.padTokenId,
      dtype,
      nameOrPath: `crossrank-synthetic/${preset}-seed${options.seed}`,
    });
    writeFileSync(join(temp, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    progress(1, 'safetensors');
    writeCheckpoint(
      temp,
      specs.map((s) => ({ name: s.name, shape: s.shape, data: weights.get(s.name)! })),
      safetensorsDtype[dtype],
      options.maxShardBytes,
    );
    progress(1, 'onnx');
    const onnx = buildEncoderGraph(dims, weights, { padTokenId: facts.padTokenId, producerVersion: packageVersion });
    writeFileSync(join(temp, 'onnx', 'model.onnx'), onnx);
    if (dims.task === 'embed') writeSentenceTransformersFiles(temp, dims);
    for (const file of TOKENIZER_FILES) {
      if (!existsSync(join(tokenizerDir, file))) continue;
      copyFileSync(join(tokenizerDir, file), join(temp, file));
      chmodSync(join(temp, file), 0o644); // the source may be read-only; the copy belongs to the user

    }

    if (existsSync(out)) rmSync(out, { recursive: true, force: true });
    mkdirSync(dirname(out), { recursive: true });
    renameSync(temp, out);
    return {
      dir: out,
      files: listFiles(out),
      parameters: total,
      dims,
    };
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    throw error;
  }
}

/** modules.json and the Pooling / Normalize modules, as sentence-transformers saves a bi-encoder. */
function writeSentenceTransformersFiles(dir: string, dims: EncoderDims): void {
  const json = (path: string, value: unknown) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), `${JSON.stringify(value, null, 2)}\n`);
  };
  json('modules.json', [
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
    { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
  ]);
  json('sentence_bert_config.json', { max_seq_length: Math.min(256, dims.maxPositions), do_lower_case: false });
  json('1_Pooling/config.json', {
    word_embedding_dimension: dims.hiddenSize,
    pooling_mode_cls_token: dims.pooling === 'cls',
    pooling_mode_mean_tokens: dims.pooling !== 'cls',
    pooling_mode_max_tokens: false,
    pooling_mode_mean_sqrt_len_tokens: false,
  });
  mkdirSync(join(dir, '2_Normalize'), { recursive: true });
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]))
    .sort();
}
