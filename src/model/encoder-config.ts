/** config.json -> the native engine's encoder configuration, refusing what it cannot run. */
import { ModelLoadError } from '../errors.js';
import { NativeEncoderArch, type NativeEncoderConfig } from '../native/binding.js';
import type { ModelConfig } from './model-config.js';

const architectures: Record<string, NativeEncoderArch> = {
  BertForSequenceClassification: NativeEncoderArch.Bert,
  XLMRobertaForSequenceClassification: NativeEncoderArch.Roberta,
  RobertaForSequenceClassification: NativeEncoderArch.Roberta,
  // Bare encoders: sentence-transformers bi-encoders (embeddings, not scores).
  BertModel: NativeEncoderArch.Bert,
  XLMRobertaModel: NativeEncoderArch.Roberta,
  RobertaModel: NativeEncoderArch.Roberta,
};

/** A bare encoder (BertModel, ...): the native engine returns its hidden states. */
export const isBareEncoder = (architecture: string) => /^(Bert|XLMRoberta|Roberta)Model$/.test(architecture);

export function nativeEncoderConfig(config: ModelConfig, source: string): NativeEncoderConfig {
  const raw = config.raw;
  const arch = architectures[config.architecture];
  if (arch === undefined) {
    throw new ModelLoadError(
      `${source}: the native engine runs ${Object.keys(architectures).join(', ')}; this model is ${config.architecture}`,
    );
  }
  const act = raw.hidden_act ?? 'gelu';
  if (act !== 'gelu') throw new ModelLoadError(`${source}: hidden_act ${String(act)} is not supported by the native engine (gelu only)`);
  const positions = raw.position_embedding_type ?? 'absolute';
  if (positions !== 'absolute') {
    throw new ModelLoadError(`${source}: position_embedding_type ${String(positions)} is not supported (absolute only)`);
  }
  const int = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 2 ** 31 - 1) {
      throw new ModelLoadError(`${source}: ${key} must be a positive integer, got ${JSON.stringify(raw[key])}`);
    }
    return v;
  };
  const eps = raw.layer_norm_eps ?? 1e-12;
  if (typeof eps !== 'number' || !(eps > 0)) throw new ModelLoadError(`${source}: layer_norm_eps must be a positive number`);
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  if (hiddenSize % numHeads !== 0) {
    throw new ModelLoadError(`${source}: hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}`);
  }
  return {
    arch,
    vocabSize: int('vocab_size'),
    hiddenSize,
    numLayers: int('num_hidden_layers'),
    numHeads,
    intermediateSize: int('intermediate_size'),
    maxPositions: int('max_position_embeddings'),
    typeVocabSize: int('type_vocab_size', 2),
    numLabels: config.numLabels,
    layerNormEps: eps,
    padTokenId: config.padTokenId,
    bare: isBareEncoder(config.architecture),
  };
}
