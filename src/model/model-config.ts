/** Reads config.json of a Hugging Face sequence-classification model: what the runtime needs. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ModelLoadError } from '../errors.js';

export interface ModelConfig {
  architecture: string;
  modelType: string;
  numLabels: number;
  /** Longest sequence the position embeddings allow (RoBERTa-style offsets removed). */
  maxPositions: number;
  padTokenId: number;
  /** sentence-transformers' stored activation: 'sigmoid' | 'none' | 'softmax', if any. */
  storedActivation?: 'sigmoid' | 'none' | 'softmax';
  raw: Record<string, unknown>;
}

const activationNames: Record<string, 'sigmoid' | 'none' | 'softmax'> = {
  'torch.nn.modules.activation.Sigmoid': 'sigmoid',
  'torch.nn.modules.linear.Identity': 'none',
  'torch.nn.modules.activation.Softmax': 'softmax',
};

export function readModelConfig(dir: string): ModelConfig {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new ModelLoadError(`${dir} has no config.json`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new ModelLoadError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ModelLoadError(`${path} is not a JSON object`);
  const architecture = Array.isArray(raw.architectures) ? String(raw.architectures[0]) : 'unknown';
  const modelType = typeof raw.model_type === 'string' ? raw.model_type : 'unknown';
  const id2label = raw.id2label && typeof raw.id2label === 'object' ? Object.keys(raw.id2label) : [];
  const numLabels = typeof raw.num_labels === 'number' ? raw.num_labels : id2label.length || 2; // transformers' default is 2
  if (!Number.isInteger(numLabels) || numLabels < 1) throw new ModelLoadError(`${path}: invalid number of labels ${numLabels}`);
  const padTokenId = typeof raw.pad_token_id === 'number' ? raw.pad_token_id : 0;
  const positions = typeof raw.max_position_embeddings === 'number' ? raw.max_position_embeddings : 512;
  // RoBERTa/XLM-R positions start after the padding index: 514 embeddings hold 512 tokens.
  const roberta = /roberta|camembert/i.test(modelType);
  const maxPositions = roberta ? positions - padTokenId - 1 : positions;
  const st = raw.sentence_transformers as { activation_fn?: string } | undefined;
  const storedActivation = st?.activation_fn ? activationNames[st.activation_fn] : undefined;
  return { architecture, modelType, numLabels, maxPositions, padTokenId, storedActivation, raw };
}

/** The longest pair a model takes: its position table, or the tokenizer's limit when lower. */
export function modelMaxLength(dir: string, config: ModelConfig): number {
  return Math.min(config.maxPositions, tokenizerMaxLength(dir) ?? Infinity);
}

/** The tokenizer's model_max_length when it is a real limit (transformers writes 1e30 for "none"). */
function tokenizerMaxLength(dir: string): number | undefined {
  const path = join(dir, 'tokenizer_config.json');
  if (!existsSync(path)) return undefined;
  try {
    const v = (JSON.parse(readFileSync(path, 'utf8')) as { model_max_length?: number }).model_max_length;
    return typeof v === 'number' && v > 0 && v < 1e6 ? v : undefined;
  } catch {
    return undefined;
  }
}
