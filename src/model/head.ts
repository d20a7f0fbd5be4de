/**
 * How raw logits become one score per pair, decided once from config.json and options:
 *   1 label            sigmoid (sentence-transformers' default) or none (the raw logit)
 *   2 labels           softmax -> probability of label 1, or none (the raw label-1 logit)
 *   true/false tokens  softmax([logit_true, logit_false])[0] (LLM rerankers)
 */
import { InvalidArgumentError } from '../errors.js';
import type { ScoreHeadSpec } from '../score-head.js';
import type { ModelConfig } from './model-config.js';

export type Activation = 'none' | 'sigmoid' | 'softmax';
export const activations: Activation[] = ['none', 'sigmoid', 'softmax'];

export interface Head {
  numLabels: number;
  activation: Activation;
  positiveIndex: number;
  /** For LLM rerankers: the ids of the "true" and "false" answer tokens. */
  trueFalseTokens?: [number, number];
}

export function parseActivation(value: string | undefined): Activation | undefined {
  if (value === undefined) return undefined;
  if (!activations.includes(value as Activation)) {
    throw new InvalidArgumentError(`activation must be one of ${activations.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as Activation;
}

export function resolveHead(config: ModelConfig, override?: Activation): Head {
  const numLabels = config.numLabels;
  const activation = override ?? config.storedActivation ?? (numLabels === 1 ? 'sigmoid' : 'softmax');
  if (activation === 'sigmoid' && numLabels !== 1) {
    throw new InvalidArgumentError(`sigmoid needs a single-logit head; this model has ${numLabels} labels (use softmax or none)`);
  }
  if (activation === 'softmax' && numLabels < 2) {
    throw new InvalidArgumentError('softmax needs at least 2 labels; this model has one logit (use sigmoid or none)');
  }
  return { numLabels, activation, positiveIndex: numLabels === 1 ? 0 : 1 };
}

/** The true/false-token head of LLM rerankers: logits are [true, false]. */
export function trueFalseHead(trueId: number, falseId: number): Head {
  return { numLabels: 2, activation: 'softmax', positiveIndex: 0, trueFalseTokens: [trueId, falseId] };
}

export function headSpec(head: Head): ScoreHeadSpec {
  return {
    numLabels: head.numLabels,
    activation: head.activation === 'none' ? 'identity' : head.activation,
    positiveIndex: head.positiveIndex,
  };
}
