/**
 * ONNX Runtime backend (onnxruntime-node). CPU by default; the CUDA execution provider
 * when asked for and present in the installed onnxruntime (otherwise a typed error,
 * never a crash). Feeds only the inputs the graph declares.
 */
import { availableParallelism } from 'node:os';

import { BackendUnavailableError, CrossrankError, InternalError, InvalidArgumentError, ModelLoadError } from '../errors.js';
import { native } from '../native/load.js';
import type { PairEncodings } from '../tokenizer/pair-tokenizer.js';
import type { Backend } from './backend.js';
import { OrtWorkerSession, type WorkerTensor } from './ort-worker-session.js';

export interface OnnxBackendOptions {
  /**
   * A decoder reranker (Qwen3-Reranker): its graph gives logits at every position, over the
   * vocabulary (`logits`) or trimmed to the two answer tokens (`yes_no_logits`); the backend
   * returns [yes, no] at each row's last real position, and feeds `position_ids`.
   */
  decoder?: { answerIds: [number, number] };
  device?: string;
  /** Intra-op threads (default: all cores). */
  threads?: number;
}

const knownInputs = new Set(['input_ids', 'attention_mask', 'token_type_ids', 'position_ids']);

export class OnnxBackend implements Backend {
  readonly name = 'onnx' as const;
  readonly device: string;
  readonly numLabels: number;
  readonly #session: OrtWorkerSession;
  readonly #outputName: string;
  readonly #decoder: OnnxBackendOptions['decoder'];

  private constructor(session: OrtWorkerSession, device: string, numLabels: number, outputName: string, decoder: OnnxBackendOptions['decoder']) {
    this.#session = session;
    this.device = device;
    this.numLabels = numLabels;
    this.#outputName = outputName;
    this.#decoder = decoder;
  }

  static async create(path: string, expectedLabels: number, options: OnnxBackendOptions = {}): Promise<OnnxBackend> {
    const device = options.device ?? 'cpu';
    const cuda = /^cuda(:(\d+))?$/.exec(device);
    if (device !== 'cpu' && !cuda) throw new InvalidArgumentError(`device must be 'cpu', 'cuda' or 'cuda:N', got ${device}`);
    const executionProviders = cuda ? [{ name: 'cuda', deviceId: Number(cuda[2] ?? 0) }] : ['cpu'];
    let session: OrtWorkerSession;
    try {
      // On a worker thread: ONNX Runtime computes on the thread that calls run().
      session = await OrtWorkerSession.create(path, {
        executionProviders,
        graphOptimizationLevel: 'all',
        intraOpNumThreads: options.threads ?? availableParallelism(),
        // A missing CUDA provider is reported below as a typed error; keep ORT's own log quiet.
        logSeverityLevel: cuda ? 4 : 2,
      });
    } catch (error) {
      const message = (error as Error).message;
      if (cuda) {
        throw new BackendUnavailableError(
          `onnxruntime-node cannot use CUDA here (${message.split('\n')[0]}); install an onnxruntime-node build with the CUDA provider, or use device 'cpu'`,
          { cause: error },
        );
      }
      throw new ModelLoadError(`cannot load ONNX model ${path}: ${message.split('\n')[0]}`, { cause: error });
    }
    for (const name of session.inputNames) {
      if (!knownInputs.has(name)) {
        await session.release();
        throw new ModelLoadError(`${path} has input ${name}; a cross-encoder graph takes ${[...knownInputs].join(', ')}`);
      }
    }
    const preferred = options.decoder ? ['yes_no_logits', 'logits'] : ['logits'];
    const outputName = preferred.find((n) => session.outputNames.includes(n)) ?? session.outputNames[0];
    return new OnnxBackend(session, device, options.decoder ? 2 : expectedLabels, outputName, options.decoder);
  }

  async run(pairs: PairEncodings, rowIndices: Int32Array, padId: number): Promise<Float32Array> {
    // Pad only to this batch's longest pair; built natively, without per-token JS objects.
    const batch = native().padBatch(pairs.ids, pairs.typeIds, pairs.offsets, rowIndices, padId);
    const rows = rowIndices.length;
    const dims = [rows, batch.seqLen];
    const feeds: Record<string, WorkerTensor> = {};
    for (const name of this.#session.inputNames) {
      const data = name === 'input_ids' ? batch.inputIds : name === 'attention_mask' ? batch.attentionMask : batch.tokenTypeIds;
      feeds[name] = name === 'position_ids' ? { type: 'int64', data: positionsOf(batch.attentionMask, rows, batch.seqLen), dims } : { type: 'int64', data, dims };
    }
    let outputs: Record<string, WorkerTensor>;
    try {
      outputs = await this.#session.run(feeds);
    } catch (error) {
      if (error instanceof CrossrankError) throw error;
      throw new InternalError(`ONNX Runtime failed on a batch of ${rows} x ${batch.seqLen}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
    }
    const output = outputs[this.#outputName];
    if (this.#decoder) return this.#lastPosition(output, batch.attentionMask, rows, batch.seqLen);
    const data = output.data as Float32Array;
    if (output.type !== 'float32' || data.length !== rows * this.numLabels) {
      throw new ModelLoadError(
        `ONNX output ${this.#outputName} has type ${output.type} and shape [${output.dims}], expected float32 [${rows}, ${this.numLabels}]`,
      );
    }
    return data;
  }

  /** [yes, no] logits at each row's last real position (rows are right-padded). */
  #lastPosition(output: WorkerTensor, mask: BigInt64Array, rows: number, seqLen: number): Float32Array {
    const data = output.data as Float32Array;
    const width = output.dims[2];
    if (output.type !== 'float32' || output.dims.length !== 3 || output.dims[0] !== rows || output.dims[1] !== seqLen) {
      throw new ModelLoadError(`ONNX output ${this.#outputName} has type ${output.type} and shape [${output.dims}], expected float32 [${rows}, ${seqLen}, vocabulary or 2]`);
    }
    const [yes, no] = width === 2 ? [0, 1] : this.#decoder!.answerIds;
    if (yes >= width || no >= width) throw new ModelLoadError(`ONNX output ${this.#outputName} has ${width} columns; the answer tokens are ${yes} and ${no}`);
    const out = new Float32Array(rows * 2);
    for (let r = 0; r < rows; r++) {
      let length = 0;
      for (let t = 0; t < seqLen; t++) if (mask[r * seqLen + t] !== 0n) length++;
      const at = (r * seqLen + length - 1) * width;
      out[2 * r] = data[at + yes];
      out[2 * r + 1] = data[at + no];
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.#session.release();
  }
}

/** Position ids 0, 1, ... over each row's real tokens (right padding; pads get 0). */
function positionsOf(mask: BigInt64Array, rows: number, seqLen: number): BigInt64Array {
  const out = new BigInt64Array(rows * seqLen);
  for (let r = 0; r < rows; r++) {
    let p = 0n;
    for (let t = 0; t < seqLen; t++) if (mask[r * seqLen + t] !== 0n) out[r * seqLen + t] = p++;
  }
  return out;
}
