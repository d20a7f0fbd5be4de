/**
 * Shapes of the synthetic models `crossrank make-model` writes. Each preset mirrors a real
 * checkpoint's architecture; the vocabulary size comes from the tokenizer used.
 */

export type EncoderArchitecture = 'bert' | 'xlm-roberta';

/** 'rerank': a sequence classifier (cross-encoder); 'embed': a bare encoder with pooling (bi-encoder). */
export type EncoderTask = 'rerank' | 'embed';
export type Pooling = 'mean' | 'cls';

export interface EncoderShape {
  architecture: EncoderArchitecture;
  numLayers: number;
  hiddenSize: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  numLabels: number;
  layerNormEps: number;
  /** Default 'rerank'. */
  task?: EncoderTask;
  /** For 'embed': how token vectors become one (sentence-transformers' Pooling module). */
  pooling?: Pooling;
}

const bert = { architecture: 'bert', maxPositions: 512, typeVocabSize: 2, numLabels: 1, layerNormEps: 1e-12 } as const;
// XLM-RoBERTa: positions are offset past the padding index (512 + 2) and there is one token type.
const xlmr = { architecture: 'xlm-roberta', maxPositions: 514, typeVocabSize: 1, numLabels: 1, layerNormEps: 1e-5 } as const;

export const presets = {
  /** 2 layers, hidden 32: fast enough for every unit test. */
  tiny: { ...bert, numLayers: 2, hiddenSize: 32, numHeads: 2, intermediateSize: 64 },
  /** tiny with the XLM-RoBERTa layout (bge-reranker family). */
  'tiny-xlmr': { ...xlmr, numLayers: 2, hiddenSize: 32, numHeads: 2, intermediateSize: 64 },
  /** The shape of cross-encoder/ms-marco-MiniLM-L-6-v2. */
  'minilm-l6': { ...bert, numLayers: 6, hiddenSize: 384, numHeads: 12, intermediateSize: 1536 },
  /** The shape of cross-encoder/ms-marco-TinyBERT-L-2-v2. */
  'tinybert-l2': { ...bert, numLayers: 2, hiddenSize: 128, numHeads: 2, intermediateSize: 512 },
  /**
   * The shape of cross-encoder/ms-marco-TinyBERT-L-4: hidden 312 (head dim 26, widths multiples
   * of 8 but not of 16), the odd shapes a kernel must not assume away.
   */
  'tinybert-l4': { ...bert, numLayers: 4, hiddenSize: 312, numHeads: 12, intermediateSize: 1200 },
  'bert-base': { ...bert, numLayers: 12, hiddenSize: 768, numHeads: 12, intermediateSize: 3072 },
  'bert-large': { ...bert, numLayers: 24, hiddenSize: 1024, numHeads: 16, intermediateSize: 4096 },
  /** The shape of BAAI/bge-reranker-base (with whatever tokenizer is given). */
  'xlmr-base': { ...xlmr, numLayers: 12, hiddenSize: 768, numHeads: 12, intermediateSize: 3072 },
  /** A bi-encoder for tests: tiny, BertModel layout, mean pooling, normalised. */
  'tiny-embed': { ...bert, task: 'embed', pooling: 'mean', numLayers: 2, hiddenSize: 32, numHeads: 2, intermediateSize: 64 },
  /** The shape and layout of sentence-transformers/all-MiniLM-L6-v2 (mean pooling, normalised). */
  'minilm-l6-embed': { ...bert, task: 'embed', pooling: 'mean', numLayers: 6, hiddenSize: 384, numHeads: 12, intermediateSize: 1536 },
  /** The shape of BAAI/bge-small-en-v1.5 (CLS pooling, normalised). */
  'bge-small-embed': { ...bert, task: 'embed', pooling: 'cls', numLayers: 12, hiddenSize: 384, numHeads: 12, intermediateSize: 1536 },
} satisfies Record<string, EncoderShape>;

export type PresetName = keyof typeof presets;

export const presetNames = Object.keys(presets) as PresetName[];
