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

export function number(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got ${JSON.stringify(value)}`);
    return n;
  };
}

/** --precision: the native CUDA engine's 16-bit type (where it applies is CrossEncoder.load's to say). */
export const PRECISION_HELP =
  'native CUDA engine: the 16-bit type of weights and activations, fp16 or bf16 (default: fp16 for cross-encoders, bf16 for LLM rerankers)';

export function precision(value: string): CudaElementType {
  if (value !== 'fp16' && value !== 'bf16') throw new InvalidArgumentError(`--precision must be fp16 or bf16, got ${JSON.stringify(value)}`);
  return value;
}
