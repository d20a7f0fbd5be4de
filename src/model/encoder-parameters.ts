/**
 * The parameter list of a BertForSequenceClassification / XLMRobertaForSequenceClassification
 * checkpoint: names exactly as transformers saves them, shapes, and how make-model
 * initialises each. Linear weights are [out, in] as in PyTorch.
 */
import type { EncoderShape } from './presets.js';

/**
 * embedding: N(0, 0.02) as transformers initialises; linear: N(0, 1/fan_in), which keeps
 * activations O(1) through the layers so attention is far from uniform and logits spread
 * over several units, as in trained rerankers (a parity test on near-constant logits
 * would prove little); bias, ln-*: small noise around 0 and 1, so a dropped bias or
 * LayerNorm parameter changes the output.
 */
export type Init = 'embedding' | 'linear' | 'bias' | 'ln-weight' | 'ln-bias';

export interface ParameterSpec {
  name: string;
  shape: number[];
  init: Init;
}

export interface EncoderDims extends EncoderShape {
  vocabSize: number;
}

/**
 * The prefix transformers gives the encoder's parameters: `bert.` or `roberta.` inside a
 * sequence classifier; none in a bare BertModel / XLMRobertaModel (sentence-transformers).
 */
export function encoderPrefix(dims: Pick<EncoderShape, 'architecture' | 'task'>): string {
  if (dims.task === 'embed') return '';
  return dims.architecture === 'bert' ? 'bert.' : 'roberta.';
}

export function encoderParameters(d: EncoderDims): ParameterSpec[] {
  const p = encoderPrefix(d);
  const H = d.hiddenSize;
  const out: ParameterSpec[] = [];
  const linear = (name: string, outDim: number, inDim: number) => {
    out.push({ name: `${name}.weight`, shape: [outDim, inDim], init: 'linear' });
    out.push({ name: `${name}.bias`, shape: [outDim], init: 'bias' });
  };
  const layerNorm = (name: string) => {
    out.push({ name: `${name}.weight`, shape: [H], init: 'ln-weight' });
    out.push({ name: `${name}.bias`, shape: [H], init: 'ln-bias' });
  };

  out.push({ name: `${p}embeddings.word_embeddings.weight`, shape: [d.vocabSize, H], init: 'embedding' });
  out.push({ name: `${p}embeddings.position_embeddings.weight`, shape: [d.maxPositions, H], init: 'embedding' });
  out.push({ name: `${p}embeddings.token_type_embeddings.weight`, shape: [d.typeVocabSize, H], init: 'embedding' });
  layerNorm(`${p}embeddings.LayerNorm`);
  for (let l = 0; l < d.numLayers; l++) {
    const layer = `${p}encoder.layer.${l}`;
    linear(`${layer}.attention.self.query`, H, H);
    linear(`${layer}.attention.self.key`, H, H);
    linear(`${layer}.attention.self.value`, H, H);
    linear(`${layer}.attention.output.dense`, H, H);
    layerNorm(`${layer}.attention.output.LayerNorm`);
    linear(`${layer}.intermediate.dense`, d.intermediateSize, H);
    linear(`${layer}.output.dense`, H, d.intermediateSize);
    layerNorm(`${layer}.output.LayerNorm`);
  }
  if (d.task === 'embed') {
    // A bare model still saves its pooler (BertModel(add_pooling_layer=True)); pooling itself
    // is sentence-transformers' job.
    linear(`${p}pooler.dense`, H, H);
  } else if (d.architecture === 'bert') {
    linear(`${p}pooler.dense`, H, H);
    linear('classifier', d.numLabels, H);
  } else {
    // RobertaClassificationHead: dense + tanh on the first token, then out_proj.
    linear('classifier.dense', H, H);
    linear('classifier.out_proj', d.numLabels, H);
  }
  return out;
}
