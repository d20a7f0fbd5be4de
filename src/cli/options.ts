/** Option parsers shared by CLI commands (they throw InvalidArgumentError, exit code 2). */
import { InvalidArgumentError } from '../errors.js';
import type { CudaElementType } from '../native/binding.js';

export function integer(name: string, min = 0) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min) {
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
    }
    return Number(value);
  };
}

/** A size in bytes: 123, or with a unit as transformers' max_shard_size takes it: 500MB, 5GB (powers of 1000), 2GiB (of 1024). */
export function byteSize(name: string) {
  const units: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };
  return (value: string): number => {
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
    const bytes = m && units[m[2].toLowerCase()] !== undefined ? Math.floor(Number(m[1]) * units[m[2].toLowerCase()]) : NaN;
    if (!(bytes >= 1 && Number.isSafeInteger(bytes))) {
      throw new InvalidArgumentError(`${name} must be a size such as 2000000, 500MB or 5GB, got ${JSON.stringify(value)}`);
    }
    return bytes;
  };
}

export function number(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got ${JSON.stringify(value)}`);
    return n;
  };
}

/** --backend: left out, the model decides (defaultBackend in model/model-files.ts). */
/** --batch-tokens: how the budget is counted depends on whether the backend pads. */
export const BATCH_TOKENS_HELP = 'tokens per backend batch: padded (rows x longest) on ONNX Runtime, real tokens on the native engine, which packs rows (default: 1024 on CPU, 16384 on CUDA)';

export const BACKEND_HELP = 'backend: onnx or native (default: onnx where the model has an ONNX export, else native)';

/** --onnx-file: a graph other than onnx/model.onnx (CrossEncoderOptions.onnxFile). */
export const ONNX_FILE_HELP =
  "ONNX Runtime: the graph to run, by its path in the model (e.g. onnx/model_quantized.onnx, onnx/model_q4.onnx; default onnx/model.onnx)";

/** --precision: the native CUDA engine's 16-bit type (where it applies is CrossEncoder.load's to say). */
export const PRECISION_HELP =
  'native CUDA engine: the 16-bit type of weights and activations, fp16 or bf16 (default: fp16 for cross-encoders, bf16 for LLM rerankers)';

export function precision(value: string): CudaElementType {
  if (value !== 'fp16' && value !== 'bf16') throw new InvalidArgumentError(`--precision must be fp16 or bf16, got ${JSON.stringify(value)}`);
  return value;
}
