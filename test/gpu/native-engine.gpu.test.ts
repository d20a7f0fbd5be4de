/**
 * The native engine's CUDA backend against its CPU reference (fp32) on the same weights:
 * logits within 2e-2 (fp16 activations), same order, several batch sizes and mixed lengths.
 * Skipped where CUDA is not available (the same checks run on the CPU emulation of the
 * backend in test/native/cuda-emulation.test.ts).
 */
import { describe } from 'vitest';

import { native } from '../../src/native/load.js';
import { encoderOnCuda } from './cuda-suites.js';

const cuda = await native().cudaInfo();

describe.skipIf(!cuda.available)(`native engine on CUDA (${cuda.reasonCode})`, () => {
  encoderOnCuda(['tiny', 'tiny-xlmr', 'tinybert-l4', 'minilm-l6', 'bert-base'], 100);
});
