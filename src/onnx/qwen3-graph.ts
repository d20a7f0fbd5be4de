/**
 * The ONNX graph of a Qwen3 reranker (Qwen3ForCausalLM), built node by node: int64 inputs
 * `input_ids`, `position_ids` [batch, sequence] and `attention_mask` [batch, past + sequence];
 * the output: by default `yes_no_logits` [batch, sequence, 2] — the output layer's rows for
 * the two answer tokens only (a "trimmed" export: the full vocabulary is 150k logits a
 * position) — or, as the public exports have it, `logits` [batch, sequence, vocabulary].
 * With a key/value cache (`kvCache`, the layout of the public exports made for generation,
 * e.g. transformers.js's): inputs `past_key_values.{layer}.key|value` and outputs
 * `present.{layer}.key|value`, each [batch, key/value heads, length, head dim], the present
 * ones the past followed by this call's tokens — which lets a runtime compute a prompt
 * prefix once and continue it for every document. Decoder: RMSNorm, rotary embeddings from
 * position_ids, grouped-query causal attention with per-head q/k RMSNorm, SwiGLU. Opset 17.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { DataType, GraphBuilder, withExternalDataFile, type ExternalData } from './graph-builder.js';
import { ONNX_IR_VERSION, ONNX_OPSET, transpose } from './encoder-graph.js';
import type { Qwen3Dims } from '../model/qwen3.js';

/** transformers' additive mask value: torch.finfo(torch.float32).min */
const MASK_MIN = -3.4028234663852886e38;

/** Where the graph's weights come from: a map, or a checkpoint read tensor by tensor. */
export interface WeightSource {
  get(name: string): Float32Array | undefined;
}

/**
 * Graphs whose weights reach this many bytes keep them in model.onnx_data beside the graph:
 * one protobuf holds at most 2 GB, and the nodes need some of it.
 */
export const EXTERNAL_DATA_BYTES = 1.9e9;

export interface Qwen3GraphOptions {
  /** The two answer rows (default) or the whole vocabulary, as the public exports have it. */
  output?: 'yes-no' | 'vocabulary';
  /** Key/value cache inputs and outputs (default false). */
  kvCache?: boolean;
  /**
   * Each layer's attention as ONNX Runtime's fused `com.microsoft.GroupQueryAttention`, as
   * ONNX Runtime's optimizer leaves it in optimized public exports (default false: standard
   * ONNX operators). Such a graph runs on ONNX Runtime only, and reads `attention_mask` only
   * for each row's length: every row's tokens must be contiguous from its start (right
   * padding, or an all-ones mask).
   */
  fusedAttention?: boolean;
}

/**
 * Writes `onnxDir`/model.onnx, with its weights in `onnxDir`/model.onnx_data when
 * `externalData`; returns the file names written.
 */
export function writeQwen3Graph(
  onnxDir: string,
  externalData: boolean,
  dims: Qwen3Dims,
  weights: WeightSource,
  answerIds: [number, number],
  producerVersion: string,
  options: Qwen3GraphOptions = {},
): string[] {
  const build = (external?: ExternalData) => buildQwen3Graph(dims, weights, answerIds, producerVersion, options, external);
  const graph = externalData ? withExternalDataFile(join(onnxDir, 'model.onnx_data'), build) : build();
  writeFileSync(join(onnxDir, 'model.onnx'), graph);
  return externalData ? ['model.onnx', 'model.onnx_data'] : ['model.onnx'];
}

export function buildQwen3Graph(
  dims: Qwen3Dims,
  weights: WeightSource,
  answerIds: [number, number],
  producerVersion: string,
  options: Qwen3GraphOptions = {},
  external?: ExternalData,
): Uint8Array {
  const output = options.output ?? 'yes-no';
  const past = options.kvCache ?? false;
  const fused = options.fusedAttention ?? false;
  const g = new GraphBuilder(external);
  const { hiddenSize: H, numHeads: nH, numKvHeads: nKV, headDim: hd, intermediateSize: I } = dims;
  const weight = (name: string) => {
    const w = weights.get(name);
    if (!w) throw new Error(`missing weight ${name}`);
    return w;
  };
  const init = (name: string, shape: number[]) => g.floatInitializer(name, shape, weight(name));
  // y = x W^T (no biases in Qwen3's linear layers)
  const linear = (x: string, name: string, outDim: number, inDim: number) =>
    g.op('MatMul', [x, g.floatInitializer(`${name}.weight.T`, [inDim, outDim], transpose(weight(`${name}.weight`), outDim, inDim))]);
  const rmsNorm = (x: string, name: string, dim: number) => {
    const mean = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: [-1], keepdims: 1 });
    const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [mean, g.floatConstant(dims.rmsNormEps)])])]);
    return g.op('Mul', [g.op('Mul', [x, inv]), init(name, [dim])]);
  };

  // ---- rotary tables from position_ids: cos/sin [B, S, 1, hd] -------------------------
  const invFreq = Float32Array.from({ length: hd / 2 }, (_, i) => 1 / dims.ropeTheta ** ((2 * i) / hd));
  const positions = g.op('Unsqueeze', [g.op('Cast', ['position_ids'], { to: DataType.FLOAT }), g.int64Constant([2])]);
  const freqs = g.op('Mul', [positions, g.floatInitializer('rope.inv_freq', [hd / 2], invFreq)]);
  const angles = g.op('Unsqueeze', [g.op('Concat', [freqs, freqs], { axis: -1 }), g.int64Constant([2])]);
  const cos = g.op('Cos', [angles]);
  const sin = g.op('Sin', [angles]);
  const half = (x: string, first: boolean) =>
    g.op('Slice', [x, g.int64Constant([first ? 0 : hd / 2]), g.int64Constant([first ? hd / 2 : hd]), g.int64Constant([-1])]);
  const rope = (x: string) => {
    const rotated = g.op('Concat', [g.op('Neg', [half(x, false)]), half(x, true)], { axis: -1 });
    return g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [rotated, sin])]);
  };

  const length = (input: string) => g.op('Gather', [g.op('Shape', [input]), g.int64Constant(1)], { axis: 0 });
  const group = nH / nKV;

  // [B, nKV, T, hd]: the cached keys/values first, then this call's (the present output).
  const cached = (l: number, t: string, kind: 'key' | 'value') => {
    const own = g.op('Transpose', [t], { perm: [0, 2, 1, 3] });
    return past ? g.op('Concat', [`past_key_values.${l}.${kind}`, own], { axis: 2 }, `present.${l}.${kind}`) : own;
  };
  // Grouped-query attention: each key/value head serves `group` query heads.
  const repeat = (t: string) => {
    const grouped = g.op('Expand', [g.op('Unsqueeze', [t, g.int64Constant([2])]), g.int64Constant([1, 1, group, 1, 1])]);
    return g.op('Reshape', [grouped, g.int64Constant([0, nH, -1, hd])]); // [B, nH, T, hd]
  };
  /** Standard operators: q k^T / sqrt(hd) + mask, softmax, times v; [B, S, nH * hd]. */
  const standardAttention = (): ((l: number, q: string, k: string, v: string) => string) => {
    const additive = causalMask();
    const scale = g.floatConstant(Math.sqrt(hd));
    return (l, q, k, v) => {
      const qh = g.op('Transpose', [q], { perm: [0, 2, 1, 3] });
      const kh = g.op('Transpose', [repeat(cached(l, k, 'key'))], { perm: [0, 1, 3, 2] });
      const scores = g.op('Add', [g.op('Div', [g.op('MatMul', [qh, kh]), scale]), additive]);
      const ctx = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), repeat(cached(l, v, 'value'))]);
      return g.op('Reshape', [g.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }), g.int64Constant([0, 0, nH * hd])]);
    };
  };
  /** GroupQueryAttention: causal, each row's length from the mask (its real tokens, minus one). */
  const fusedAttention = (): ((l: number, q: string, k: string, v: string) => string) => {
    const lastKey = g.op('Cast', [g.op('Sub', [g.op('ReduceSum', ['attention_mask', g.int64Constant([1])], { keepdims: 0 }), g.int64Constant(1)])], { to: DataType.INT32 });
    const totalLength = g.op('Cast', [length('attention_mask')], { to: DataType.INT32 });
    const flat = (t: string) => g.op('Reshape', [t, g.int64Constant([0, 0, -1])]); // [B, S, n * hd]
    return (l, q, k, v) => {
      const cache = (kind: string) => (past ? `past_key_values.${l}.${kind}` : '');
      const present = (kind: string) => (past ? `present.${l}.${kind}` : g.fresh(`present_${kind}`));
      const [out] = g.domainOp(
        'com.microsoft',
        'GroupQueryAttention',
        [flat(q), flat(k), flat(v), cache('key'), cache('value'), lastKey, totalLength],
        [g.fresh('attention'), present('key'), present('value')],
        { num_heads: nH, kv_num_heads: nKV },
      );
      return out;
    };
  };

  // ---- additive mask [B, 1, S, T] (T = past + S): causal, and padded keys masked ----------
  function causalMask(): string {
    const seqLen = length('input_ids');
    const totalLen = past ? length('attention_mask') : seqLen;
    const range = (from: string, to: string) => g.op('Range', [from, to, g.int64Constant(1)]);
    // Query i sits at position (T - S) + i of the keys: after the cached ones.
    const queryAt = past ? range(g.op('Sub', [totalLen, seqLen]), totalLen) : range(g.int64Constant(0), seqLen);
    const keyAt = past ? range(g.int64Constant(0), totalLen) : queryAt;
    const future = g.op('Less', [g.op('Unsqueeze', [queryAt, g.int64Constant([1])]), g.op('Unsqueeze', [keyAt, g.int64Constant([0])])]); // [S, T]: key after query
    const padKey = g.op('Unsqueeze', [g.op('Equal', ['attention_mask', g.int64Constant(0)]), g.int64Constant([1, 2])]); // [B, 1, 1, T]
    const masked = g.op('Or', [g.op('Unsqueeze', [future, g.int64Constant([0, 1])]), padKey]);
    return g.op('Where', [masked, g.floatConstant(MASK_MIN), g.floatConstant(0)]);
  }
  const attention = fused ? fusedAttention() : standardAttention();

  // ---- decoder layers -------------------------------------------------------------------
  let x = g.op('Gather', [init('model.embed_tokens.weight', [dims.vocabSize, H]), 'input_ids']);
  for (let l = 0; l < dims.numLayers; l++) {
    const p = `model.layers.${l}`;
    const h = rmsNorm(x, `${p}.input_layernorm.weight`, H);
    const heads = (name: string, count: number) => g.op('Reshape', [linear(h, name, count * hd, H), g.int64Constant([0, 0, count, hd])]); // [B, S, n, hd]
    const q = rope(rmsNorm(heads(`${p}.self_attn.q_proj`, nH), `${p}.self_attn.q_norm.weight`, hd));
    const k = rope(rmsNorm(heads(`${p}.self_attn.k_proj`, nKV), `${p}.self_attn.k_norm.weight`, hd));
    const v = heads(`${p}.self_attn.v_proj`, nKV);
    const merged = attention(l, q, k, v);
    x = g.op('Add', [x, linear(merged, `${p}.self_attn.o_proj`, H, nH * hd)]);
    const h2 = rmsNorm(x, `${p}.post_attention_layernorm.weight`, H);
    const gate = linear(h2, `${p}.mlp.gate_proj`, I, H);
    const silu = g.op('Mul', [gate, g.op('Sigmoid', [gate])]);
    x = g.op('Add', [x, linear(g.op('Mul', [silu, linear(h2, `${p}.mlp.up_proj`, I, H)]), `${p}.mlp.down_proj`, H, I)]);
  }
  const final = rmsNorm(x, 'model.norm.weight', H);

  // ---- the output layer: the two answer rows only, or the whole vocabulary ---------------
  const head = weight(dims.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight');
  const outputName = output === 'yes-no' ? 'yes_no_logits' : 'logits';
  const columns = output === 'yes-no' ? 2 : dims.vocabSize;
  let rows = head;
  if (output === 'yes-no') {
    rows = new Float32Array(2 * H);
    answerIds.forEach((id, r) => rows.set(head.subarray(id * H, (id + 1) * H), r * H));
  }
  g.op('MatMul', [final, g.floatInitializer('output_rows.T', [H, columns], transpose(rows, columns, H))], {}, outputName);

  const dynamic = ['batch_size', 'sequence_length'];
  const cacheNames = (prefix: string) =>
    past ? Array.from({ length: dims.numLayers }, (_, l) => [`${prefix}.${l}.key`, `${prefix}.${l}.value`]).flat() : [];
  const cache = (name: string, length: string) => ({ name, elemType: DataType.FLOAT, shape: ['batch_size', nKV, length, hd] });
  return g.encode({
    graphName: 'main_graph',
    inputs: [
      { name: 'input_ids', elemType: DataType.INT64, shape: dynamic },
      { name: 'attention_mask', elemType: DataType.INT64, shape: ['batch_size', past ? 'total_sequence_length' : 'sequence_length'] },
      { name: 'position_ids', elemType: DataType.INT64, shape: dynamic },
      ...cacheNames('past_key_values').map((name) => cache(name, 'past_sequence_length')),
    ],
    outputs: [
      { name: outputName, elemType: DataType.FLOAT, shape: [...dynamic, columns] },
      ...cacheNames('present').map((name) => cache(name, 'total_sequence_length')),
    ],
    opset: ONNX_OPSET,
    irVersion: ONNX_IR_VERSION,
    producerName: 'crossrank',
    producerVersion,
  });
}
