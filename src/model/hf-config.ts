/** config.json as transformers writes it for the two encoder classifier architectures. */
import type { EncoderDims } from './encoder-parameters.js';

export type WeightDtype = 'fp32' | 'fp16' | 'bf16';

const torchDtype: Record<WeightDtype, string> = { fp32: 'float32', fp16: 'float16', bf16: 'bfloat16' };

export function encoderConfig(
  dims: EncoderDims,
  options: { padTokenId: number; dtype: WeightDtype; nameOrPath: string },
): Record<string, unknown> {
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  for (let i = 0; i < dims.numLabels; i++) {
    id2label[String(i)] = `LABEL_${i}`;
    label2id[`LABEL_${i}`] = i;
  }
  const common = {
    _name_or_path: options.nameOrPath,
    attention_probs_dropout_prob: 0.1,
    classifier_dropout: null,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    hidden_size: dims.hiddenSize,
    id2label,
    initializer_range: 0.02,
    intermediate_size: dims.intermediateSize,
    label2id,
    layer_norm_eps: dims.layerNormEps,
    max_position_embeddings: dims.maxPositions,
    num_attention_heads: dims.numHeads,
    num_hidden_layers: dims.numLayers,
    pad_token_id: options.padTokenId,
    position_embedding_type: 'absolute',
    torch_dtype: torchDtype[options.dtype],
    transformers_version: '4.46.3',
    type_vocab_size: dims.typeVocabSize,
    use_cache: true,
    vocab_size: dims.vocabSize,
  };
  const embed = dims.task === 'embed';
  const specific =
    dims.architecture === 'bert'
      ? { architectures: [embed ? 'BertModel' : 'BertForSequenceClassification'], model_type: 'bert' }
      : { architectures: [embed ? 'XLMRobertaModel' : 'XLMRobertaForSequenceClassification'], model_type: 'xlm-roberta', bos_token_id: 0, eos_token_id: 2 };
  const config: Record<string, unknown> = { ...common, ...specific };
  if (embed) {
    // A bare encoder has no labels.
    delete config.id2label;
    delete config.label2id;
    delete config.classifier_dropout;
  }
  // transformers writes keys sorted (json.dumps(sort_keys=True)).
  return Object.fromEntries(Object.keys(config).sort().map((k) => [k, config[k]]));
}
