/**
 * What runs the native CUDA engine's linear layers, by the rule the engine itself applies
 * (native/cuda/kernels/linear_library.cuh): `CROSSRANK_CUDA_GEMM` names an engine, or, unset
 * or `auto`, encoders take cuBLASLt where it opens (it is opened at run time, never linked)
 * and the decoder its own kernels (its rounding would otherwise follow the batch's shape, and
 * a shared prefix would not score as the unshared one does). Reported in `info.linearLayers`,
 * `crossrank bench` and `crossrank doctor`.
 */
import { InvalidArgumentError } from '../errors.js';
import { native } from '../native/load.js';

export type CudaLinearEngine = 'cublaslt' | 'pipelined' | 'wide' | 'wmma64';

const SETTINGS = ['auto', 'cublaslt', 'pipelined', 'wide', 'wmma64'] as const;
type Setting = (typeof SETTINGS)[number];

/** A variable's value among `choices` (unset or empty: the first), checked: a typo would otherwise pick the default without a word. */
function envChoice<T extends string>(name: string, choices: readonly T[], value: string | undefined): T {
  if (value === undefined || value === '') return choices[0];
  if (!(choices as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`${name} must be one of ${choices.join(', ')}; got ${JSON.stringify(value)}`);
  }
  return value as T;
}

/** CROSSRANK_CUDA_GEMM, checked. */
export function cudaGemmSetting(value = process.env.CROSSRANK_CUDA_GEMM): Setting {
  return envChoice('CROSSRANK_CUDA_GEMM', SETTINGS, value);
}

const GELU_SETTINGS = ['exact', 'tanh'] as const;
/** The GELU an encoder's feed-forward layers compute on the native CUDA engine. */
export type CudaGelu = (typeof GELU_SETTINGS)[number];

/**
 * `CROSSRANK_CUDA_GELU`, checked. `tanh` lets cuBLASLt apply GELU in its own epilogue, which has
 * only the tanh approximation (within 4.7e-4 of the exact GELU), instead of a pass of exact GELU
 * over the feed-forward activations after the product; TEI runs BERT this way. Unset or
 * `exact`: exact GELU, as the models were trained with.
 */
export function cudaGeluSetting(value = process.env.CROSSRANK_CUDA_GELU): CudaGelu {
  return envChoice('CROSSRANK_CUDA_GELU', GELU_SETTINGS, value);
}

/** The GELU an encoder computes: the approximation only where cuBLASLt runs its layers (the own kernels fuse the exact one). */
export function geluFor(engine: CudaLinearEngine, setting: CudaGelu): CudaGelu {
  return engine === 'cublaslt' ? setting : 'exact';
}

/** The engine a model of this family runs on, given whether cuBLASLt opens here. */
export function linearEngineFor(family: 'encoder' | 'decoder', setting: Setting, cublasLtOpens: boolean): CudaLinearEngine {
  if (setting !== 'auto') return setting;
  return family === 'encoder' && cublasLtOpens ? 'cublaslt' : 'pipelined';
}

/** As linearEngineFor, asking the addon whether cuBLASLt opens (only where it matters). */
export async function cudaLinearEngine(family: 'encoder' | 'decoder', setting = cudaGemmSetting()): Promise<CudaLinearEngine> {
  const opens = family === 'encoder' && setting === 'auto' ? (await native().cublasLtInfo()).available : false;
  return linearEngineFor(family, setting, opens);
}
