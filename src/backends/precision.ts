/**
 * The `precision` option: the 16-bit type of the native CUDA engine's weight matrices and
 * activations. Meaningful there only (the CPU reference and ONNX Runtime compute in fp32), so
 * refused elsewhere rather than silently ignored.
 */
import { InvalidArgumentError } from '../errors.js';
import type { CudaElementType } from '../native/binding.js';

/**
 * Each family's default: encoders fp16 (BERT-family activations stay well inside its range,
 * and its 3 extra mantissa bits keep near-tied scores apart), decoders bf16 (the type Qwen3
 * checkpoints are trained and shipped in; LLM activations can pass fp16's 65,504).
 */
export const DEFAULT_PRECISION = { encoder: 'fp16', decoder: 'bf16' } as const satisfies Record<string, CudaElementType>;

export function parsePrecision(value: unknown, nativeCuda: boolean, fallback: CudaElementType): CudaElementType {
  if (value === undefined) return fallback;
  if (value !== 'bf16' && value !== 'fp16') throw new InvalidArgumentError(`precision must be 'bf16' or 'fp16', got ${JSON.stringify(value)}`);
  if (!nativeCuda) throw new InvalidArgumentError("precision applies to the native CUDA engine only (backend 'native', device 'cuda'); the CPU paths compute in fp32");
  return value;
}
