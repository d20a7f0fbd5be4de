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

export interface OrtSessionOptions {
  device?: string;
  /** Intra-op threads (default: all cores). */
  threads?: number;
}

const knownInputs = new Set(['input_ids', 'attention_mask', 'token_type_ids', 'position_ids']);

/**
 * An ONNX Runtime session on its worker, on the CPU or the CUDA provider; a missing CUDA
 * provider is a BackendUnavailableError, an unreadable graph a ModelLoadError.
 */
export async function openOrtSession(path: string, options: OrtSessionOptions): Promise<{ session: OrtWorkerSession; device: string }> {
  const device = options.device ?? 'cpu';
  const cuda = /^cuda(:(\d+))?$/.exec(device);
  if (device !== 'cpu' && !cuda) throw new InvalidArgumentError(`device must be 'cpu', 'cuda' or 'cuda:N', got ${device}`);
  const executionProviders = cuda ? [{ name: 'cuda', deviceId: Number(cuda[2] ?? 0) }] : ['cpu'];
  try {
    // On a worker thread: ONNX Runtime computes on the thread that calls run().
    const session = await OrtWorkerSession.create(path, {
      executionProviders,
      graphOptimizationLevel: 'all',
      intraOpNumThreads: options.threads ?? availableParallelism(),
      // A missing CUDA provider is reported below as a typed error; keep ORT's own log quiet.
      logSeverityLevel: cuda ? 4 : 2,
    });
    return { session, device };
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
}

/** session.run with ONNX Runtime's failures as InternalErrors naming the batch's shape. */
export async function runOrt(session: OrtWorkerSession, feeds: Record<string, WorkerTensor>, rows: number, seqLen: number, fetches?: string[]): Promise<Record<string, WorkerTensor>> {
  try {
    return await session.run(feeds, fetches);
  } catch (error) {
    if (error instanceof CrossrankError) throw error;
    throw new InternalError(`ONNX Runtime failed on a batch of ${rows} x ${seqLen}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
}

export class OnnxBackend implements Backend {
  readonly name = 'onnx' as const;
  readonly device: string;
  readonly numLabels: number;
  readonly #session: OrtWorkerSession;
  readonly #outputName: string;

  private constructor(session: OrtWorkerSession, device: string, numLabels: number, outputName: string) {
    this.#session = session;
    this.device = device;
    this.numLabels = numLabels;
    this.#outputName = outputName;
  }

  static async create(path: string, expectedLabels: number, options: OrtSessionOptions = {}): Promise<OnnxBackend> {
    const { session, device } = await openOrtSession(path, options);
    for (const name of session.inputNames) {
      if (!knownInputs.has(name)) {
        await session.release();
        throw new ModelLoadError(`${path} has input ${name}; a cross-encoder graph takes ${[...knownInputs].join(', ')}`);
      }
    }
    const outputName = session.outputNames.includes('logits') ? 'logits' : session.outputNames[0];
    return new OnnxBackend(session, device, expectedLabels, outputName);
  }

  async run(pairs: PairEncodings, rowIndices: Int32Array, padId: number): Promise<Float32Array> {
    // Pad only to this batch's longest pair; built natively, without per-token JS objects.
    const batch = native().padBatch(pairs.ids, pairs.typeIds, pairs.offsets, rowIndices, padId);
    const rows = rowIndices.length;
    const dims = [rows, batch.seqLen];
    const feeds: Record<string, WorkerTensor> = {};
    for (const name of this.#session.inputNames) {
      const data = name === 'input_ids' ? batch.inputIds : name === 'attention_mask' ? batch.attentionMask : batch.tokenTypeIds;
      feeds[name] = { type: 'int64', data: name === 'position_ids' ? positionsOf(batch.attentionMask, rows, batch.seqLen) : data, dims };
    }
    const output = (await runOrt(this.#session, feeds, rows, batch.seqLen))[this.#outputName];
    const data = output.data as Float32Array;
    if (output.type !== 'float32' || data.length !== rows * this.numLabels) {
      throw new ModelLoadError(
        `ONNX output ${this.#outputName} has type ${output.type} and shape [${output.dims}], expected float32 [${rows}, ${this.numLabels}]`,
      );
    }
    return data;
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
