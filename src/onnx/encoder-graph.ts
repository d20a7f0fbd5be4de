/**
 * The ONNX graph of a BERT / XLM-RoBERTa sequence classifier, built node by node the way
 * an Optimum (torch.onnx) export lays it out: int64 inputs `input_ids`, `attention_mask`
 * (and `token_type_ids` for BERT) with dynamic `batch_size` x `sequence_length` axes, and
 * one output `logits` [batch_size, num_labels] — or, for a bi-encoder (task 'embed'),
 * `last_hidden_state` [batch_size, sequence_length, hidden]. Opset 17 (LayerNormalization),
 * erf GELU.
 */
import { encoderPrefix, type EncoderDims } from '../model/encoder-parameters.js';
import { DataType, GraphBuilder } from './graph-builder.js';

/** transformers' additive mask value: torch.finfo(torch.float32).min */
const MASK_MIN = -3.4028234663852886e38;

export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;

export function encoderInputNames(architecture: EncoderDims['architecture']): string[] {
  // Optimum exports XLM-RoBERTa without token_type_ids (there is only one type).
  return architecture === 'bert' ? ['input_ids', 'attention_mask', 'token_type_ids'] : ['input_ids', 'attention_mask'];
}

/** Transposes a PyTorch [out, in] Linear weight into the [in, out] matrix MatMul wants. */
export function transpose(weight: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(weight.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = weight[r * cols + c];
  return out;
}

export function buildEncoderGraph(
  dims: EncoderDims,
  weights: Map<string, Float32Array>,
  options: { padTokenId: number; producerVersion: string },
): Uint8Array {
  const g = new GraphBuilder();
  const p = encoderPrefix(dims);
  const H = dims.hiddenSize;
  const headDim = H / dims.numHeads;
  const weight = (name: string) => {
    const w = weights.get(name);
    if (!w) throw new Error(`missing weight ${name}`);
    return w;
  };
  const init = (name: string, shape: number[]) => g.floatInitializer(name, shape, weight(name));
  const linear = (x: string, name: string, outDim: number, inDim: number) => {
    const w = g.floatInitializer(`${name}.weight.T`, [inDim, outDim], transpose(weight(`${name}.weight`), outDim, inDim));
    return g.op('Add', [init(`${name}.bias`, [outDim]), g.op('MatMul', [x, w])]);
  };
  const layerNorm = (x: string, name: string) =>
    g.op('LayerNormalization', [x, init(`${name}.weight`, [H]), init(`${name}.bias`, [H])], {
      axis: -1,
      epsilon: { float: dims.layerNormEps },
    });

  // ---- embeddings ------------------------------------------------------------------
  const words = g.op('Gather', [init(`${p}embeddings.word_embeddings.weight`, [dims.vocabSize, H]), 'input_ids']);
  const positionTable = init(`${p}embeddings.position_embeddings.weight`, [dims.maxPositions, H]);
  const typeTable = init(`${p}embeddings.token_type_embeddings.weight`, [dims.typeVocabSize, H]);
  let positions: string;
  let types: string;
  if (dims.architecture === 'bert') {
    // position_ids = arange(seq_len)[None, :]
    const seqLen = g.op('Gather', [g.op('Shape', ['input_ids']), g.int64Constant(1)], { axis: 0 });
    const range = g.op('Range', [g.int64Constant(0), seqLen, g.int64Constant(1)]);
    positions = g.op('Gather', [positionTable, g.op('Unsqueeze', [range, g.int64Constant([0])])]);
    types = g.op('Gather', [typeTable, 'token_type_ids']);
  } else {
    // RoBERTa: position_ids = cumsum(ids != pad) * (ids != pad) + pad
    const notPad = g.op('Cast', [g.op('Not', [g.op('Equal', ['input_ids', g.int64Constant(options.padTokenId)])])], {
      to: DataType.INT64,
    });
    const cumsum = g.op('CumSum', [notPad, g.int64Constant(1)]);
    const ids = g.op('Add', [g.op('Mul', [cumsum, notPad]), g.int64Constant(options.padTokenId)]);
    positions = g.op('Gather', [positionTable, ids]);
    types = g.op('Gather', [typeTable, g.int64Constant(0)]); // token type 0 everywhere: one row, broadcast
  }
  let hidden = layerNorm(g.op('Add', [g.op('Add', [words, types]), positions]), `${p}embeddings.LayerNorm`);

  // ---- additive attention mask: (1 - mask) * finfo.min, shape [B, 1, 1, S] ----------
  const maskFloat = g.op('Cast', [g.op('Unsqueeze', ['attention_mask', g.int64Constant([1, 2])])], {
    to: DataType.FLOAT,
  });
  const additiveMask = g.op('Mul', [g.op('Sub', [g.floatConstant(1), maskFloat]), g.floatConstant(MASK_MIN)]);
  const splitHeads = g.int64Constant([0, 0, dims.numHeads, headDim]);
  const mergeHeads = g.int64Constant([0, 0, H]);
  const scale = g.floatConstant(Math.sqrt(headDim));

  // ---- encoder layers -----------------------------------------------------------------
  for (let l = 0; l < dims.numLayers; l++) {
    const layer = `${p}encoder.layer.${l}`;
    const heads = (name: string, perm: number[]) =>
      g.op('Transpose', [g.op('Reshape', [linear(hidden, name, H, H), splitHeads])], { perm });
    const q = heads(`${layer}.attention.self.query`, [0, 2, 1, 3]); // [B, h, S, d]
    const k = heads(`${layer}.attention.self.key`, [0, 2, 3, 1]); // [B, h, d, S]
    const v = heads(`${layer}.attention.self.value`, [0, 2, 1, 3]); // [B, h, S, d]
    const scores = g.op('Add', [g.op('Div', [g.op('MatMul', [q, k]), scale]), additiveMask]);
    const probs = g.op('Softmax', [scores], { axis: -1 });
    const context = g.op('Reshape', [
      g.op('Transpose', [g.op('MatMul', [probs, v])], { perm: [0, 2, 1, 3] }),
      mergeHeads,
    ]);
    const attention = linear(context, `${layer}.attention.output.dense`, H, H);
    hidden = layerNorm(g.op('Add', [attention, hidden]), `${layer}.attention.output.LayerNorm`);

    const up = linear(hidden, `${layer}.intermediate.dense`, dims.intermediateSize, H);
    // exact GELU: x * 0.5 * (1 + erf(x / sqrt(2)))
    const erf = g.op('Erf', [g.op('Div', [up, g.floatConstant(Math.SQRT2)])]);
    const gelu = g.op('Mul', [g.op('Mul', [up, g.op('Add', [erf, g.floatConstant(1)])]), g.floatConstant(0.5)]);
    const down = linear(gelu, `${layer}.output.dense`, H, dims.intermediateSize);
    hidden = layerNorm(g.op('Add', [down, hidden]), `${layer}.output.LayerNorm`);
  }

  const dynamic = ['batch_size', 'sequence_length'];
  const encode = (output: { name: string; shape: (string | number)[] }) =>
    g.encode({
      graphName: 'main_graph',
      inputs: encoderInputNames(dims.architecture).map((name) => ({ name, elemType: DataType.INT64, shape: dynamic })),
      outputs: [{ name: output.name, elemType: DataType.FLOAT, shape: output.shape }],
      opset: ONNX_OPSET,
      irVersion: ONNX_IR_VERSION,
      producerName: 'crossrank',
      producerVersion: options.producerVersion,
    });

  // A bi-encoder's export (Optimum feature-extraction) ends at the token vectors.
  if (dims.task === 'embed') {
    g.op('Identity', [hidden], {}, 'last_hidden_state');
    return encode({ name: 'last_hidden_state', shape: [...dynamic, H] });
  }

  // ---- head on the first token ----------------------------------------------------------
  const first = g.op('Gather', [hidden, g.int64Constant(0)], { axis: 1 }); // [B, H]
  if (dims.architecture === 'bert') {
    const pooled = g.op('Tanh', [linear(first, `${p}pooler.dense`, H, H)]);
    const logits = linear(pooled, 'classifier', dims.numLabels, H);
    g.op('Identity', [logits], {}, 'logits');
  } else {
    const dense = g.op('Tanh', [linear(first, 'classifier.dense', H, H)]);
    const logits = linear(dense, 'classifier.out_proj', dims.numLabels, H);
    g.op('Identity', [logits], {}, 'logits');
  }

  return encode({ name: 'logits', shape: ['batch_size', dims.numLabels] });
}
