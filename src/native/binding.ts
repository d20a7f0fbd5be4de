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
  /** Whether the CUDA backend's kernels run on it (false: an architecture older than the build's, compute capability < 8.0). */
  supported: boolean;
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

/** Token lists: the ids of several texts concatenated; text i is ids[offsets[i] .. offsets[i+1]). */
export interface NativeTokenLists {
  ids: Int32Array;
  offsets: Int32Array;
}

export interface NativeWordPieceConfig {
  cleanText: boolean;
  handleChineseChars: boolean;
  stripAccents: boolean;
  lowercase: boolean;
  unkToken: string;
  continuingSubwordPrefix: string;
  maxInputCharsPerWord: number;
  addedTokens: { content: string; id: number; lstrip: boolean; rstrip: boolean; singleWord: boolean }[];
}

export interface NativeTokenizerInstance {
  /** Tokenizes without special tokens, off the JS thread, over the tokenizer's threads. */
  encode(texts: string[]): Promise<NativeTokenLists>;
  /** The same on the JS thread, for short inputs (a query). */
  encodeSync(texts: string[]): NativeTokenLists;
}

/** Numbering shared with native/include/crossrank/tokenizer.h. */
export const enum NativeTruncation {
  LongestFirst = 0,
  OnlySecond = 1,
}

export interface NativePairTemplate {
  clsId: number;
  sepId: number;
  maxLength: number;
  truncation: NativeTruncation;
}

/** Encoded pairs: [CLS] q [SEP] d [SEP] per pair, concatenated. */
export interface NativePairEncodings {
  ids: Int32Array;
  typeIds: Int32Array;
  offsets: Int32Array;
  truncated: Uint8Array;
}

export interface NativePaddedBatch {
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds: BigInt64Array;
  seqLen: number;
}

/** Numbering shared with native/include/crossrank/encoder.h. */
export const enum NativeEncoderArch {
  Bert = 0,
  Roberta = 1,
}

export interface NativeEncoderConfig {
  arch: NativeEncoderArch;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  numLabels: number;
  layerNormEps: number;
  padTokenId: number;
  /** A bare encoder (BertModel): no prefix, no classifier; forward returns hidden states. */
  bare?: boolean;
}

export interface NativeEncoderInstance {
  /** Raw logits [sequences x numLabels] of a packed batch (no padding); for a bare encoder the hidden states [tokens x hidden]. */
  forward(tokenIds: Int32Array, typeIds: Int32Array, cuSeqlens: Int32Array): Promise<Float32Array>;
  /** Frees the weights once forwards in flight have finished. */
  dispose(): void;
}

/**
 * The 16-bit type of the CUDA engine's weight matrices and activations (biases, norms and the
 * decoder's residual stream and answer rows stay fp32). 'bf16': fp32's range, the type Qwen3
 * checkpoints are trained and shipped in; 'fp16': 3 more mantissa bits, but activations past
 * 65,504 overflow.
 */
export type CudaElementType = 'bf16' | 'fp16';

export interface NativeDecoderConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositions: number;
  rmsNormEps: number;
  ropeTheta: number;
  tieWordEmbeddings: boolean;
}

export interface NativeDecoderInstance {
  /**
   * Answer logits [sequences x answers] at each sequence's last token. The prefixes (packed:
   * ids + cumulative lengths) run once each; sequence s continues prefix `prefixOf[s]`, reusing
   * its key/value cache, or runs whole when it is -1.
   */
  score(prefixIds: Int32Array, prefixCu: Int32Array, tokenIds: Int32Array, cuSeqlens: Int32Array, prefixOf: Int32Array): Promise<Float32Array>;
  dispose(): void;
}

export interface NativeBinding {
  /** Version of the JS/native contract; the loader refuses a binary with another one. */
  readonly abiVersion: number;
  /** Package version the binary was built from. */
  readonly version: string;
  readonly builtWithCuda: boolean;
  setErrorFactory(factory: (code: string, message: string) => Error): void;
  cpuFeatures(): string[];
  /** Bytes the process can still take (MemAvailable, within a cgroup limit), as the CPU reference's load checks; 0 if unknown. */
  availableMemory(): number;
  /** Opens and probes the CUDA backend library on first call; never rejects for "no CUDA". */
  cudaInfo(): Promise<NativeCudaInfo>;
  /** Whether cuBLASLt opens for the CUDA backend (see backends/cuda-linear-engine.ts); opens it, so only where a GPU is usable. */
  cublasLtInfo(): Promise<{ available: boolean; detail: string }>;
  /** device -1: CPU reference; device >= 0: CUDA. Resolves one score per logits row. */
  scoreHead(
    logits: Float32Array,
    numLabels: number,
    activation: NativeActivation,
    positiveIndex: number,
    device: number,
  ): Promise<Float32Array>;
  /** `threads` (default 1): native threads encode() splits a list of texts over. */
  NativeTokenizer: new (vocab: string[], config: NativeWordPieceConfig, threads?: number) => NativeTokenizerInstance;
  encodePairs(
    queryIds: Int32Array,
    queryOffsets: Int32Array,
    docIds: Int32Array,
    docOffsets: Int32Array,
    pairQuery: Int32Array,
    pairDoc: Int32Array,
    template: NativePairTemplate,
  ): NativePairEncodings;
  /** Pads the selected pairs to their longest: ONNX Runtime's int64 inputs. */
  padBatch(ids: Int32Array, typeIds: Int32Array, offsets: Int32Array, rows: Int32Array, padId: number): NativePaddedBatch;
  /**
   * Maps and validates model.safetensors (or every shard a model.safetensors.index.json
   * names) and converts the weights, off the JS thread.
   * device -1: the CPU reference forward pass; device >= 0: the CUDA backend on that GPU in
   * `element` (ignored on the CPU, which computes in fp32). `onProgress` after each layer is read.
   */
  loadEncoder(
    path: string,
    config: NativeEncoderConfig,
    threads: number,
    device: number,
    element: CudaElementType,
    onProgress?: (layersDone: number, layers: number) => void,
  ): Promise<NativeEncoderInstance>;
  /**
   * A decoder reranker (only the answer rows of the output layer are computed), loaded off the
   * JS thread. device -1: the CPU reference; device >= 0: the CUDA backend on that GPU in
   * `element` (ignored on the CPU, which computes in fp32). `onProgress` after each layer is
   * read and converted.
   */
  loadDecoder(
    path: string,
    config: NativeDecoderConfig,
    answerIds: Int32Array,
    threads: number,
    device: number,
    element: CudaElementType,
    onProgress?: (layersDone: number, layers: number) => void,
  ): Promise<NativeDecoderInstance>;
}

export const NATIVE_ABI_VERSION = 8; // 2: bare encoders (embeddings); 3: the decoder (Qwen3 rerankers); 4: decoder on CUDA, one batched score(); 5: the CUDA decoder's element type; 6: the CUDA encoder's; 7: cublasLtInfo(); 8: availableMemory()
