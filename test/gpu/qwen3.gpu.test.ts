/**
 * The native decoder (Qwen3 reranker) on CUDA against its CPU reference on the same weights:
 * P(yes) within 2e-2 (bf16 weights and activations by default, fp16 on request; fp32 residual
 * stream), the same order, prefix-shared equal to unshared; batches mixing several queries
 * (several prefixes); activations past fp16's range (see overflowOnCuda).
 * Skipped where CUDA is not available (the same checks run on the CPU emulation of the
 * backend in test/native/cuda-emulation.test.ts).
 */
import { describe } from 'vitest';

import { native } from '../../src/native/load.js';
import { overflowOnCuda, qwen3OnCuda } from './cuda-suites.js';

const cuda = await native().cudaInfo();

describe.skipIf(!cuda.available)(`Qwen3 decoder on CUDA (${cuda.reasonCode})`, () => {
  qwen3OnCuda(4, 25); // 4 queries x 25 documents: several prefixes per batch
  overflowOnCuda();
});
