/**
 * The score head: raw logits from any backend in, one score per pair out. It runs once,
 * outside the backends, in native code (CPU reference or CUDA kernel).
 */
import { InvalidArgumentError } from './errors.js';
import { NativeActivation } from './native/binding.js';
import { native } from './native/load.js';

export type ScoreActivation = 'identity' | 'sigmoid' | 'softmax';

export interface ScoreHeadSpec {
  /** Logits per pair: 1 for a single-logit head, 2 for a 2-class head or [true, false] of an LLM reranker. */
  numLabels: number;
  /** Default: sigmoid for one label, softmax otherwise. */
  activation?: ScoreActivation;
  /** Which logit column means "relevant". Default: 0 for one label, 1 for 2-class heads. */
  positiveIndex?: number;
}

export interface ScoreHeadOptions {
  /** 'cpu' (default) or 'cuda' / 'cuda:N'. */
  device?: string;
}

const activations: Record<ScoreActivation, NativeActivation> = {
  identity: NativeActivation.Identity,
  sigmoid: NativeActivation.Sigmoid,
  softmax: NativeActivation.Softmax,
};

/** Parses 'cpu', 'cuda', 'cuda:N' into a native device index (-1 = CPU). */
export function parseDevice(device: string | undefined): number {
  if (device === undefined || device === 'cpu') return -1;
  const match = /^cuda(?::(\d+))?$/.exec(device);
  if (!match) throw new InvalidArgumentError(`device must be 'cpu', 'cuda' or 'cuda:N', got ${JSON.stringify(device)}`);
  return match[1] === undefined ? 0 : Number(match[1]);
}

/** Applies the head to a rows x numLabels matrix of logits (row-major). */
export async function applyScoreHead(
  logits: Float32Array,
  spec: ScoreHeadSpec,
  options: ScoreHeadOptions = {},
): Promise<Float32Array> {
  if (!(logits instanceof Float32Array)) throw new InvalidArgumentError('logits must be a Float32Array');
  const { numLabels } = spec;
  if (!Number.isInteger(numLabels) || numLabels < 1) {
    throw new InvalidArgumentError(`numLabels must be a positive integer, got ${numLabels}`);
  }
  if (logits.length % numLabels !== 0) {
    throw new InvalidArgumentError(`logits length ${logits.length} is not a multiple of numLabels ${numLabels}`);
  }
  const activation = spec.activation ?? (numLabels === 1 ? 'sigmoid' : 'softmax');
  if (!(activation in activations)) {
    throw new InvalidArgumentError(`activation must be one of ${Object.keys(activations).join(', ')}, got ${activation}`);
  }
  if (activation === 'sigmoid' && numLabels !== 1) throw new InvalidArgumentError('sigmoid needs numLabels == 1');
  if (activation === 'softmax' && numLabels < 2) throw new InvalidArgumentError('softmax needs numLabels >= 2');
  const positiveIndex = spec.positiveIndex ?? (numLabels === 2 ? 1 : 0);
  if (!Number.isInteger(positiveIndex) || positiveIndex < 0 || positiveIndex >= numLabels) {
    throw new InvalidArgumentError(`positiveIndex must be an integer in [0, ${numLabels}), got ${positiveIndex}`);
  }
  const device = parseDevice(options.device);
  // Capture the caller's stack: the native rejection happens on another tick. Captured, not
  // formatted: V8 formats a stack when it is read, which costs more than a rerank's score head.
  const callSite: { stack?: string } = {};
  Error.captureStackTrace(callSite, applyScoreHead);
  try {
    return await native().scoreHead(logits, numLabels, activations[activation], positiveIndex, device);
  } catch (error) {
    const stack = callSite.stack;
    if (error instanceof Error && stack) error.stack = `${error.name}: ${error.message}\n${stack.split('\n').slice(1).join('\n')}`;
    throw error;
  }
}
