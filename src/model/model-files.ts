/** Which files of a model directory each backend reads. */
import { existsSync, readdirSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';

import { InvalidArgumentError, ModelLoadError } from '../errors.js';

/** Which ONNX graph a load runs: onnx/model.onnx (default), the quantized export, or a named file. */
export interface OnnxChoice {
  /** onnx/model_quantized.onnx (or model_quantized.onnx). */
  quantized?: boolean;
  /**
   * A graph by its path in the model (e.g. `onnx/model_q4.onnx`, `onnx/model_fp16.onnx`:
   * the variants transformers.js exports ship, some without onnx/model.onnx).
   */
  onnxFile?: string;
}

/**
 * The variants transformers.js-style exports ship beside (or instead of) onnx/model.onnx:
 * named when a model has no default graph, so the error says what to choose.
 */
export const ONNX_VARIANTS = ['quantized', 'int8', 'uint8', 'fp16', 'q4', 'q4f16', 'bnb4'].map((v) => `onnx/model_${v}.onnx`);

/** ONNX candidates in order: onnx/model.onnx, model.onnx (or the quantized export, or the named file). */
export function onnxCandidates(choice: OnnxChoice = {}): string[] {
  if (choice.onnxFile !== undefined) {
    const file = choice.onnxFile;
    if (choice.quantized) throw new InvalidArgumentError('pass quantized or onnxFile, not both');
    const clean = typeof file === 'string' ? normalize(file).replace(/\\/g, '/') : '';
    if (!clean.endsWith('.onnx') || isAbsolute(clean) || clean.startsWith('../') || clean === '..') {
      throw new InvalidArgumentError(`onnxFile must be a .onnx file's path inside the model (e.g. onnx/model_q4.onnx), got ${JSON.stringify(file)}`);
    }
    return [clean];
  }
  return choice.quantized ? ['onnx/model_quantized.onnx', 'model_quantized.onnx'] : ['onnx/model.onnx', 'model.onnx'];
}

export function onnxModelPath(dir: string, choice: OnnxChoice = {}): string {
  const candidates = onnxCandidates(choice);
  for (const candidate of candidates) if (existsSync(join(dir, candidate))) return join(dir, candidate);
  const others = ['', 'onnx'].flatMap((sub) => {
    try {
      return readdirSync(join(dir, sub)).filter((f) => f.endsWith('.onnx')).sort().map((f) => (sub ? `${sub}/${f}` : f));
    } catch {
      return [];
    }
  });
  const hint = others.length > 0 ? ` (it has ${others.join(', ')}: choose one with onnxFile / --onnx-file)` : '';
  throw new ModelLoadError(`${dir} has no ${candidates.join(' or ')}; the ONNX Runtime backend needs an ONNX export of the model${hint}`);
}

/** A sharded checkpoint's index (tensor name → shard file), as Hugging Face saves models past a few GB. */
export const SHARD_INDEX = 'model.safetensors.index.json';
const safetensorsCandidates = ['model.safetensors', SHARD_INDEX];

/**
 * The backend a load uses when none is named: ONNX Runtime where the model has an ONNX export,
 * else crossrank's engine where it has safetensors weights (the official Qwen3-Reranker
 * repositories have no export), else ONNX Runtime, whose load then says what is missing.
 */
export function defaultBackend(dir: string, choice: OnnxChoice = {}): 'onnx' | 'native' {
  const has = (files: string[]) => files.some((f) => existsSync(join(dir, f)));
  return !namesGraph(choice) && !has(onnxCandidates()) && has(safetensorsCandidates) ? 'native' : 'onnx';
}

/** A quantized or named graph asks for ONNX Runtime. */
const namesGraph = (choice: OnnxChoice) => choice.quantized === true || choice.onnxFile !== undefined;

/**
 * The weights the native engine reads: model.safetensors, or else the index of a checkpoint
 * sharded over several safetensors files (Qwen3-Reranker-4B/8B); the native loader opens
 * and validates every shard the index names.
 */
export function weightsPath(dir: string): string {
  for (const candidate of safetensorsCandidates) if (existsSync(join(dir, candidate))) return join(dir, candidate);
  // PyTorch pickles can run code when loaded: the engine never reads them; say how to convert.
  const pickle = ['pytorch_model.bin', 'pytorch_model.bin.index.json'].find((f) => existsSync(join(dir, f)));
  const hint = pickle
    ? ` (it has ${pickle}, a PyTorch pickle, which crossrank does not read: save the model again with transformers' save_pretrained, which writes safetensors, or use backend 'onnx' with an ONNX export)`
    : '';
  throw new ModelLoadError(`${dir} has no model.safetensors or ${SHARD_INDEX}; the native engine reads the weights from them${hint}`);
}

/** Which weights a load needs: an ONNX graph, safetensors, or either (ONNX first: no backend was named). */
export type WeightFiles = 'onnx' | 'safetensors' | 'any';

/** The weights to fetch for a backend, or for the default one (a quantized or named graph is ONNX). */
export function weightFilesFor(backend: 'onnx' | 'native' | undefined, choice: OnnxChoice = {}): WeightFiles {
  if (backend === 'native') return 'safetensors';
  return backend === 'onnx' || namesGraph(choice) ? 'onnx' : 'any';
}

/**
 * Files a model needs for a backend: hub downloads fetch these (the first of each group
 * found, and then whatever an index or an ONNX graph names: the shards, external weights).
 */
export function modelFiles(kind: WeightFiles, choice: OnnxChoice = {}): { required: string[][]; optional: string[] } {
  const weights = { onnx: onnxCandidates(choice), safetensors: safetensorsCandidates, any: [...onnxCandidates(choice), ...safetensorsCandidates] }[kind];
  return {
    required: [['config.json'], weights, ['tokenizer.json', 'vocab.txt']],
    // sentence-transformers' files: how a bi-encoder pools (absent from cross-encoders: skipped).
    optional: ['tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt', 'modules.json', 'sentence_bert_config.json', '1_Pooling/config.json'],
  };
}
