/**
 * The whole native surface, typed once. Arguments reaching these functions have been
 * validated in TypeScript; native code still checks them and rejects with typed errors.
 */

/** Numbering shared with native/include/crossrank/score_head.h. */
export const enum NativeActivation {
  Identity = 0,
  Sigmoid = 1,
  Softmax = 2,
}

export interface NativeCudaDevice {
  index: number;
  name: string;
  computeCapability: string;
  totalMemory: number;
  freeMemory: number;
  multiprocessors: number;
}

export interface NativeCudaInfo {
  available: boolean;
  /** 'ok' | 'disabled' | 'library-missing' | 'library-invalid' | 'abi-mismatch' | 'no-driver' | 'driver-too-old' | 'no-device' | 'init-failed' */
  reasonCode: string;
  reason: string;
  libraryPath: string;
  driverVersion: number;
  runtimeVersion: number;
  devices: NativeCudaDevice[];
}

export interface NativeBinding {
  /** Version of the JS/native contract; the loader refuses a binary with another one. */
  readonly abiVersion: number;
  /** Package version the binary was built from. */
  readonly version: string;
  readonly builtWithCuda: boolean;
  setErrorFactory(factory: (code: string, message: string) => Error): void;
  cpuFeatures(): string[];
  /** Opens and probes the CUDA backend library on first call; never rejects for "no CUDA". */
  cudaInfo(): Promise<NativeCudaInfo>;
  /** device -1: CPU reference; device >= 0: CUDA. Resolves one score per logits row. */
  scoreHead(
    logits: Float32Array,
    numLabels: number,
    activation: NativeActivation,
    positiveIndex: number,
    device: number,
  ): Promise<Float32Array>;
}

export const NATIVE_ABI_VERSION = 1;
