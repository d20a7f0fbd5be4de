/** CUDA score head against the CPU reference. Skipped where CUDA is not available. */
import { describe } from 'vitest';

import { native } from '../../src/native/load.js';
import { scoreHeadOnCuda } from './cuda-suites.js';

const cuda = await native().cudaInfo();

describe.skipIf(!cuda.available)(`score head on CUDA (${cuda.reasonCode})`, () => {
  scoreHeadOnCuda(100_000);
});
