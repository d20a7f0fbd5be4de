/**
 * Embedders turn texts into vectors, for the HNSW retriever and for MMR. crossrank's own
 * bi-encoder is one (encoder-embedder.ts); `FunctionEmbedder` wraps anything else, such as a
 * hosted embedding API.
 */
import { InvalidArgumentError } from '../errors.js';

export interface Embedder {
  /** Vector length. */
  readonly dimension: number;
  /** One unit-length vector per text, in order. */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

/** Scales a vector to unit length in place (a zero vector stays zero). */
export function normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i] /= norm;
  return v;
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export type EmbedFunction = (texts: string[]) => Promise<ArrayLike<number>[]> | ArrayLike<number>[];

/** A user function as an embedder: batches the calls, checks and normalises what comes back. */
export class FunctionEmbedder implements Embedder {
  readonly dimension: number;
  readonly #fn: EmbedFunction;
  readonly #batchSize: number;

  constructor(fn: EmbedFunction, options: { dimension: number; batchSize?: number }) {
    if (typeof fn !== 'function') throw new InvalidArgumentError('FunctionEmbedder needs a function');
    if (!Number.isInteger(options.dimension) || options.dimension < 1) throw new InvalidArgumentError('dimension must be a positive integer');
    this.#fn = fn;
    this.dimension = options.dimension;
    this.#batchSize = options.batchSize ?? 64;
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += this.#batchSize) {
      const batch = texts.slice(start, start + this.#batchSize);
      const vectors = await this.#fn(batch);
      if (!Array.isArray(vectors) || vectors.length !== batch.length) {
        throw new InvalidArgumentError(`the embedding function returned ${Array.isArray(vectors) ? vectors.length : typeof vectors} vectors for ${batch.length} texts`);
      }
      for (const v of vectors) {
        if (v.length !== this.dimension) throw new InvalidArgumentError(`the embedding function returned a vector of ${v.length}, expected ${this.dimension}`);
        const f = Float32Array.from(v);
        if (!f.every(Number.isFinite)) throw new InvalidArgumentError('the embedding function returned a non-finite value');
        out.push(normalize(f));
      }
    }
    return out;
  }
}
