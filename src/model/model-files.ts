/** Which files of a model directory each backend reads. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { ModelLoadError } from '../errors.js';

/** ONNX candidates in order: onnx/model.onnx, model.onnx (or the quantized export when asked). */
export function onnxCandidates(quantized = false): string[] {
  return quantized ? ['onnx/model_quantized.onnx', 'model_quantized.onnx'] : ['onnx/model.onnx', 'model.onnx'];
}

export function onnxModelPath(dir: string, quantized = false): string {
  for (const candidate of onnxCandidates(quantized)) if (existsSync(join(dir, candidate))) return join(dir, candidate);
  throw new ModelLoadError(
    `${dir} has no ${onnxCandidates(quantized).join(' or ')}; the ONNX Runtime backend needs an ONNX export of the model`,
  );
}

/** A sharded checkpoint's index (tensor name → shard file), as Hugging Face saves models past a few GB. */
export const SHARD_INDEX = 'model.safetensors.index.json';
const safetensorsCandidates = ['model.safetensors', SHARD_INDEX];

/**
 * The backend a load uses when none is named: ONNX Runtime where the model has an ONNX export,
 * else crossrank's engine where it has safetensors weights (the official Qwen3-Reranker
 * repositories have no export), else ONNX Runtime, whose load then says what is missing.
 */
export function defaultBackend(dir: string, quantized = false): 'onnx' | 'native' {
  const has = (files: string[]) => files.some((f) => existsSync(join(dir, f)));
  return !quantized && !has(onnxCandidates()) && has(safetensorsCandidates) ? 'native' : 'onnx';
}

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

/** The weights to fetch for a backend, or for the default one (a quantized graph is ONNX). */
export function weightFilesFor(backend: 'onnx' | 'native' | undefined, quantized = false): WeightFiles {
  if (backend === 'native') return 'safetensors';
  return backend === 'onnx' || quantized ? 'onnx' : 'any';
}

/**
 * Files a model needs for a backend: hub downloads fetch these (the first of each group
 * found, and then whatever an index or an ONNX graph names: the shards, external weights).
 */
export function modelFiles(kind: WeightFiles, quantized = false): { required: string[][]; optional: string[] } {
  const weights = { onnx: onnxCandidates(quantized), safetensors: safetensorsCandidates, any: [...onnxCandidates(quantized), ...safetensorsCandidates] }[kind];
  return {
    required: [['config.json'], weights, ['tokenizer.json', 'vocab.txt']],
    // sentence-transformers' files: how a bi-encoder pools (absent from cross-encoders: skipped).
    optional: ['tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt', 'modules.json', 'sentence_bert_config.json', '1_Pooling/config.json'],
  };
}
