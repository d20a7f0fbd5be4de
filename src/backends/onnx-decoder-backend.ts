/**
 * ONNX Runtime for decoder rerankers (Qwen3-Reranker). The graph gives logits at every
 * position, over the vocabulary (`logits`) or trimmed to the two answer tokens
 * (`yes_no_logits`); each row's [yes, no] pair is read at its last real token.
 *
 * Graphs with a key/value cache — inputs `past_key_values.{layer}.key|value` and outputs
 * `present.{layer}.key|value`, each [batch, key/value heads, length, head dim], the layout of
 * the public exports made for generation (transformers.js / Optimum) and of `crossrank
 * export-onnx` — run each distinct prompt prefix (frame, instruction and query) once and
 * continue it for every document of that query, as the native engine does: the documents'
 * run feeds the prefix's keys/values as its past. Without sharing, the past is empty.
 * Graphs with ONNX Runtime's fused GroupQueryAttention (optimized exports) continue one row a
 * run; on a CPU, so does every model of a real reranker's width (ONE_ROW_WIDTH).
 */
import { InvalidArgumentError, ModelLoadError } from '../errors.js';
import type { PairEncodings } from '../tokenizer/pair-tokenizer.js';
import { float16BitsToFloat } from '../util/half.js';
import type { Backend } from './backend.js';
import { openOrtSession, runOrt, type OrtSessionOptions } from './onnx-backend.js';
import type { OrtWorkerSession, WorkerTensor } from './ort-worker-session.js';
import { prefixGroups } from './prefix-groups.js';

export interface OnnxDecoderOptions extends OrtSessionOptions {
  /** Vocabulary ids of the answer tokens "yes" and "no". */
  answerIds: [number, number];
  /** config.json's shape: what a cache's symbolic dimensions stand for, checked against its numeric ones. */
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  /** The model's width: on a CPU, rows of a model this wide run one at a time (ONE_ROW_WIDTH). */
  hiddenSize: number;
  /** Run each prompt prefix once where the graph has a key/value cache (default true). */
  sharePrefix?: boolean;
}

/** The cache inputs and outputs of a graph, layer by layer (key, value, key, value, ...). */
interface CacheLayout {
  pastNames: string[];
  presentNames: string[];
  type: 'float32' | 'float16';
  numKvHeads: number;
  headDim: number;
}

/** One prompt prefix's keys and values (present.* of a one-row run), in CacheLayout order. */
interface PrefixCache {
  length: number;
  tensors: WorkerTensor['data'][];
  bytes: number;
}

const PAST = /^past_key_values\.(\d+)\.(key|value)$/;
/**
 * Inputs fed besides the cache. Exports made for generation may also take
 * `num_logits_to_keep` (fed 1 for a run of one row, whose last token is the run's last
 * position: the output layer then runs once, not per token; 0 — every position — for
 * right-padded rows, which end at different places) and, from Optimum's merged decoders,
 * `use_cache_branch` (whether a past is fed).
 */
const knownInputs = new Set(['input_ids', 'attention_mask', 'position_ids', 'token_type_ids', 'num_logits_to_keep', 'use_cache_branch']);
/** Prefixes kept between batches: a query's documents usually span several CPU batches. */
const PREFIXES_KEPT = 4;
/** The documents' past is the prefix's, once per row: runs are split to stay under this. */
const MAX_PAST_BYTES = 512 * 2 ** 20;
/**
 * On a CPU, one document's ~100 tokens already fill the matrix products of a model this wide
 * (every Qwen3 reranker: 1024 and up), so batching rows only adds padding to the longest and
 * copies of the past: one row a run is 1.4x faster at the 0.6B shape (bench/RESULTS.md).
 * Narrower models (the synthetic qwen3-tiny) and GPUs keep their batches.
 */
const ONE_ROW_WIDTH = 512;

export class OnnxDecoderBackend implements Backend {
  readonly name = 'onnx' as const;
  readonly numLabels = 2;
  readonly device: string;
  readonly sharesPrefixes: boolean;
  readonly #session: OrtWorkerSession;
  readonly #outputName: string;
  readonly #answerIds: [number, number];
  readonly #cache: CacheLayout | undefined;
  /** Prefix ids (joined) → its keys/values, least recently used first. */
  readonly #prefixes = new Map<string, Promise<PrefixCache>>();
  /** Rows per run (ONE_ROW_WIDTH). */
  readonly #rowsPerRun: number;
  /**
   * Rows per run that continues a past: ONNX Runtime's fused GroupQueryAttention (in
   * optimized public exports) refuses more than one ("batch_size must be 1 when
   * sequence_length > 1 and past context is given"); learnt from the first refusal.
   */
  #continuationRows = Infinity;

  private constructor(session: OrtWorkerSession, device: string, outputName: string, answerIds: [number, number], cache: CacheLayout | undefined, share: boolean, rowsPerRun: number) {
    this.#session = session;
    this.#rowsPerRun = rowsPerRun;
    this.device = device;
    this.#outputName = outputName;
    this.#answerIds = answerIds;
    this.#cache = cache;
    this.sharesPrefixes = share && (cache?.presentNames.length ?? 0) > 0;
  }

  static async create(path: string, options: OnnxDecoderOptions): Promise<OnnxDecoderBackend> {
    const { session, device } = await openOrtSession(path, options);
    try {
      for (const name of session.inputNames) {
        if (!knownInputs.has(name) && !PAST.test(name)) {
          throw new ModelLoadError(`${path} has input ${name}; a decoder reranker's graph takes ${[...knownInputs].join(', ')} and past_key_values.N.key|value`);
        }
      }
      if (!session.inputNames.includes('input_ids')) throw new ModelLoadError(`${path} has no input_ids input`);
      const outputName = ['yes_no_logits', 'logits'].find((n) => session.outputNames.includes(n));
      if (!outputName) throw new ModelLoadError(`${path} has neither a yes_no_logits nor a logits output (it has ${session.outputNames.join(', ')})`);
      const cache = cacheLayout(session, path, options);
      const rowsPerRun = device === 'cpu' && options.hiddenSize >= ONE_ROW_WIDTH ? 1 : Infinity;
      return new OnnxDecoderBackend(session, device, outputName, options.answerIds, cache, options.sharePrefix ?? true, rowsPerRun);
    } catch (error) {
      await session.release();
      throw error;
    }
  }

  async run(pairs: PairEncodings, rows: Int32Array, padId: number): Promise<Float32Array> {
    const out = new Float32Array(rows.length * 2);
    for (const { prefix, key, at, rest } of prefixGroups(pairs, rows, this.sharesPrefixes)) {
      const past = prefix.length > 0 ? await this.#prefixCache(prefix, key) : undefined;
      await this.#runRows(rest, past, at, out, padId);
    }
    return out;
  }

  async dispose(): Promise<void> {
    this.#prefixes.clear();
    await this.#session.release();
  }

  /** A prefix's keys and values: computed once, then kept for the next batches of its query. */
  #prefixCache(prefix: Int32Array, key: string): Promise<PrefixCache> {
    let entry = this.#prefixes.get(key);
    if (entry) {
      this.#prefixes.delete(key); // most recently used last
    } else {
      entry = this.#computePrefix(prefix);
      entry.catch(() => this.#prefixes.delete(key));
      if (this.#prefixes.size >= PREFIXES_KEPT) this.#prefixes.delete(this.#prefixes.keys().next().value!);
    }
    this.#prefixes.set(key, entry);
    return entry;
  }

  async #computePrefix(prefix: Int32Array): Promise<PrefixCache> {
    const cache = this.#cache!;
    const n = prefix.length;
    const feeds = this.#feeds(BigInt64Array.from(prefix, BigInt), new BigInt64Array(n).fill(1n), BigInt64Array.from({ length: n }, (_, t) => BigInt(t)), 1, n, undefined, true);
    const outputs = await runOrt(this.#session, feeds, 1, n, cache.presentNames);
    const tensors = cache.presentNames.map((name) => {
      const t = outputs[name];
      const expected = [1, cache.numKvHeads, n, cache.headDim];
      if (!t || t.type !== cache.type || t.dims.join() !== expected.join()) {
        throw new ModelLoadError(`ONNX output ${name} is ${t?.type} [${t?.dims}], expected ${cache.type} [${expected}] (the past continued by the prefix)`);
      }
      return t.data;
    });
    return { length: n, tensors, bytes: tensors.reduce((sum, t) => sum + t.buffer.byteLength, 0) };
  }

  /** Scores `seqs` (each continuing `past` when given) into out[2 * at[i]], in runs that fit MAX_PAST_BYTES. */
  async #runRows(seqs: Int32Array[], past: PrefixCache | undefined, at: number[], out: Float32Array, padId: number): Promise<void> {
    const perRun = Math.min(this.#rowsPerRun, past ? Math.max(1, Math.min(this.#continuationRows, Math.floor(MAX_PAST_BYTES / Math.max(1, past.bytes)))) : seqs.length);
    for (let begin = 0; begin < seqs.length; begin += perRun) {
      const part = seqs.slice(begin, begin + perRun);
      const rows = part.length;
      const seqLen = Math.max(...part.map((s) => s.length));
      const prior = past?.length ?? 0;
      // Right padding with every position unmasked: attention is causal, so a real token never
      // sees the pads after it, and its logits are those of the unpadded row. Graphs with a
      // fused attention op (ORT's GroupQueryAttention, in optimized public exports) derive each
      // row's past length from the mask assuming all of its new tokens are real — a masked
      // pad would shift the row's keys.
      const ids = new BigInt64Array(rows * seqLen).fill(BigInt(padId));
      const mask = new BigInt64Array(rows * (prior + seqLen)).fill(1n);
      const positions = new BigInt64Array(rows * seqLen);
      part.forEach((s, r) => {
        for (let t = 0; t < seqLen; t++) positions[r * seqLen + t] = BigInt(prior + t);
        for (let t = 0; t < s.length; t++) ids[r * seqLen + t] = BigInt(s[t]);
      });
      let outputs: Record<string, WorkerTensor>;
      try {
        outputs = await runOrt(this.#session, this.#feeds(ids, mask, positions, rows, seqLen, past, rows === 1), rows, seqLen, [this.#outputName]);
      } catch (error) {
        if (!past || rows === 1) throw error;
        // A graph that cannot continue several rows at once: one row a run from now on (the
        // rows' first run settles it; a failure of a single row is the graph's real error).
        this.#continuationRows = 1;
        await this.#runRows(part, past, at.slice(begin, begin + rows), out, padId);
        continue;
      }
      this.#readAnswers(outputs[this.#outputName], part, at.slice(begin, begin + rows), out, seqLen, rows === 1);
    }
  }

  /** The graph's inputs for `rows` sequences of `seqLen` tokens after `past` (or none); `keepLast`: only the last position's logits are read. */
  #feeds(ids: BigInt64Array, mask: BigInt64Array, positions: BigInt64Array, rows: number, seqLen: number, past: PrefixCache | undefined, keepLast: boolean): Record<string, WorkerTensor> {
    const dims = [rows, seqLen];
    const feeds: Record<string, WorkerTensor> = {};
    for (const name of this.#session.inputNames) {
      if (name === 'input_ids') feeds[name] = { type: 'int64', data: ids, dims };
      else if (name === 'attention_mask') feeds[name] = { type: 'int64', data: mask, dims: [rows, mask.length / rows] };
      else if (name === 'position_ids') feeds[name] = { type: 'int64', data: positions, dims };
      else if (name === 'token_type_ids') feeds[name] = { type: 'int64', data: new BigInt64Array(rows * seqLen), dims };
      else if (name === 'num_logits_to_keep') feeds[name] = { type: 'int64', data: BigInt64Array.of(keepLast ? 1n : 0n), dims: [] };
      else if (name === 'use_cache_branch') feeds[name] = { type: 'bool', data: Uint8Array.of(past ? 1 : 0), dims: [1] };
    }
    const cache = this.#cache;
    if (cache) {
      const pastDims = [rows, cache.numKvHeads, past?.length ?? 0, cache.headDim];
      cache.pastNames.forEach((name, i) => {
        feeds[name] = past
          ? { type: cache.type, data: past.tensors[i], dims: pastDims, repeat: rows }
          : { type: cache.type, data: cache.type === 'float16' ? new Uint16Array(0) : new Float32Array(0), dims: pastDims };
      });
    }
    return feeds;
  }

  /** [yes, no] at each row's last token; `keptLast`: the graph may have returned that position only. */
  #readAnswers(output: WorkerTensor | undefined, seqs: Int32Array[], at: number[], out: Float32Array, seqLen: number, keptLast: boolean): void {
    const rows = seqs.length;
    const positions = output?.dims[1];
    if (!output || (output.type !== 'float32' && output.type !== 'float16') || output.dims.length !== 3 || output.dims[0] !== rows || !(positions === seqLen || (keptLast && positions === 1))) {
      throw new ModelLoadError(`ONNX output ${this.#outputName} is ${output?.type} [${output?.dims}], expected float32 or float16 [${rows}, ${seqLen} or 1, vocabulary or 2]`);
    }
    const width = output.dims[2];
    const [yes, no] = width === 2 ? [0, 1] : this.#answerIds;
    if (yes >= width || no >= width) throw new ModelLoadError(`ONNX output ${this.#outputName} has ${width} columns; the answer tokens are ${yes} and ${no}`);
    const data = output.data as ArrayLike<number>;
    const value = output.type === 'float16' ? (i: number) => float16BitsToFloat(data[i]) : (i: number) => data[i];
    seqs.forEach((s, r) => {
      const last = (r * positions + (positions === 1 ? 0 : s.length - 1)) * width;
      out[2 * at[r]] = value(last + yes);
      out[2 * at[r] + 1] = value(last + no);
    });
  }
}

/** The graph's key/value cache, checked complete and against config.json; undefined without one. */
function cacheLayout(session: OrtWorkerSession, path: string, options: OnnxDecoderOptions): CacheLayout | undefined {
  const past = session.inputNames.filter((n) => PAST.test(n));
  if (past.length === 0) {
    if (options.sharePrefix === true) {
      throw new InvalidArgumentError(
        `${path} has no key/value cache inputs, so ONNX Runtime cannot share prompt prefixes; write a graph with one (crossrank export-onnx), or use backend 'native'`,
      );
    }
    return undefined;
  }
  const pastNames: string[] = [];
  const presentNames: string[] = [];
  for (let l = 0; l < options.numLayers; l++) {
    for (const kind of ['key', 'value']) {
      const name = `past_key_values.${l}.${kind}`;
      if (!past.includes(name)) throw new ModelLoadError(`${path} has a key/value cache without ${name} (config.json: ${options.numLayers} layers)`);
      pastNames.push(name);
      presentNames.push(`present.${l}.${kind}`);
    }
  }
  if (past.length !== pastNames.length) {
    throw new ModelLoadError(`${path} has ${past.length / 2} layers of key/value cache inputs; config.json has ${options.numLayers}`);
  }
  const types = new Set<string>();
  for (const name of pastNames) {
    const meta = session.inputMetadata.find((m) => m.name === name);
    if (meta?.type) types.add(meta.type);
    const shape = meta?.shape;
    if (!shape) continue;
    const expected: (number | undefined)[] = [undefined, options.numKvHeads, undefined, options.headDim];
    if (shape.length !== 4 || shape.some((d, i) => typeof d === 'number' && expected[i] !== undefined && d !== expected[i])) {
      throw new ModelLoadError(`${path}: ${name} is [${shape}]; config.json implies [batch, ${options.numKvHeads}, past, ${options.headDim}]`);
    }
  }
  const type = types.size === 0 ? 'float32' : [...types][0];
  if (types.size > 1 || (type !== 'float32' && type !== 'float16')) {
    throw new ModelLoadError(`${path}: key/value cache inputs of type ${[...types].join(', ')}; float32 or float16 are read`);
  }
  // A cache that is only an input cannot carry a prefix over: run with an empty past.
  const canContinue = presentNames.every((n) => session.outputNames.includes(n));
  if (!canContinue && options.sharePrefix === true) {
    throw new InvalidArgumentError(`${path} has key/value cache inputs but no present.N.key|value outputs; sharePrefix needs both`);
  }
  return { pastNames, presentNames: canContinue ? presentNames : [], type: type as CacheLayout['type'], numKvHeads: options.numKvHeads, headDim: options.headDim };
}
