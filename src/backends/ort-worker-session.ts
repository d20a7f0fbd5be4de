/**
 * An ONNX Runtime session on its own worker thread.
 *
 * onnxruntime-node's `session.run()` computes on the calling thread (its promise is only a
 * setImmediate around a synchronous call), so a batch of a MiniLM-sized model on a small CPU
 * holds the event loop for 100+ ms — timers, sockets and deadlines all wait. Here the
 * session lives in a worker: the main thread only posts the padded inputs and receives the
 * outputs, and stays free while the batch runs.
 *
 * The worker is plain CommonJS evaluated from a string, so it works the same from the
 * TypeScript sources (tests) and the built package; it loads onnxruntime-node from the path
 * the main thread resolved.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

import { InternalError } from '../errors.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
let session;
parentPort.on('message', async (m) => {
  try {
    if (m.type === 'create') {
      session = await ort.InferenceSession.create(m.path, m.options);
      const inputMetadata = (session.inputMetadata || []).map((v) =>
        v.isTensor ? { name: v.name, type: v.type, shape: Array.from(v.shape) } : { name: v.name });
      parentPort.postMessage({ id: m.id, inputNames: session.inputNames, outputNames: session.outputNames, inputMetadata });
    } else if (m.type === 'run') {
      const feeds = {};
      for (const name of Object.keys(m.feeds)) {
        const t = m.feeds[name];
        let data = t.data;
        if (t.repeat > 1) {
          // One row sent, t.repeat rows fed: the same cached prefix continued by every row.
          data = new t.data.constructor(t.data.length * t.repeat);
          for (let r = 0; r < t.repeat; r++) data.set(t.data, r * t.data.length);
        }
        feeds[name] = new ort.Tensor(t.type, data, t.dims);
      }
      const out = m.fetches ? await session.run(feeds, m.fetches) : await session.run(feeds);
      const result = {};
      const transfer = [];
      for (const name of Object.keys(out)) {
        const data = out[name].data.slice(); // a copy the worker owns, moved to the main thread
        result[name] = { type: out[name].type, dims: Array.from(out[name].dims), data };
        transfer.push(data.buffer);
      }
      parentPort.postMessage({ id: m.id, result }, transfer);
    } else if (m.type === 'release') {
      if (session) await session.release();
      session = undefined;
      parentPort.postMessage({ id: m.id });
    }
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String((e && e.message) || e) });
  }
});
`;

export interface WorkerTensor {
  type: string;
  data: ArrayLike<number | bigint> & { buffer: ArrayBufferLike };
  dims: number[];
  /** Feeds only: `data` is one row along the first axis, fed `repeat` times (dims count them all). */
  repeat?: number;
}

/** An input's element type and shape as the graph declares them (names for symbolic dims). */
export interface InputMetadata {
  name: string;
  type?: string;
  shape?: (number | string)[];
}

export interface SessionOptions {
  executionProviders: unknown[];
  graphOptimizationLevel?: string;
  intraOpNumThreads?: number;
  logSeverityLevel?: number;
}

interface Pending {
  resolve(value: Record<string, unknown>): void;
  reject(error: Error): void;
}

export class OrtWorkerSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata: readonly InputMetadata[];
  readonly #worker: Worker;
  readonly #pending: Map<number, Pending>;
  #nextId: number;
  #released = false;

  private constructor(worker: Worker, pending: Map<number, Pending>, nextId: number, names: { inputNames: string[]; outputNames: string[]; inputMetadata?: InputMetadata[] }) {
    this.#worker = worker;
    this.#pending = pending;
    this.#nextId = nextId;
    this.inputNames = names.inputNames;
    this.outputNames = names.outputNames;
    this.inputMetadata = names.inputMetadata ?? [];
  }

  /** Starts a worker and creates the session in it; rejects with ONNX Runtime's message. */
  static async create(path: string, options: SessionOptions): Promise<OrtWorkerSession> {
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ortPath } });
    const pending = new Map<number, Pending>();
    const failAll = (error: Error) => {
      for (const p of pending.values()) p.reject(error);
      pending.clear();
    };
    worker.on('message', (m: { id: number; error?: string } & Record<string, unknown>) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (pending.size === 0) worker.unref();
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m);
    });
    worker.on('error', (error) => failAll(new InternalError(`the ONNX Runtime worker failed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => failAll(new InternalError(`the ONNX Runtime worker exited (code ${code})`)));
    const send = (message: Record<string, unknown>, id: number) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.ref();
        worker.postMessage({ ...message, id });
      });
    try {
      const names = (await send({ type: 'create', path, options }, 0)) as unknown as { inputNames: string[]; outputNames: string[]; inputMetadata?: InputMetadata[] };
      return new OrtWorkerSession(worker, pending, 1, names);
    } catch (error) {
      await worker.terminate();
      throw error;
    }
  }

  #send(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.ref();
      this.#worker.postMessage({ ...message, id });
    });
  }

  /** Runs the graph; with `fetches`, computes and returns only those outputs. */
  async run(feeds: Record<string, WorkerTensor>, fetches?: string[]): Promise<Record<string, WorkerTensor>> {
    if (this.#released) throw new InternalError('the ONNX Runtime session has been released');
    const reply = await this.#send({ type: 'run', feeds, fetches });
    return reply.result as Record<string, WorkerTensor>;
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    try {
      await this.#send({ type: 'release' });
    } finally {
      await this.#worker.terminate();
    }
  }
}
