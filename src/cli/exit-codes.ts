/** CLI exit codes, mapped once from error codes (0 = success, 1 = unexpected failure). */
import type { CrossrankErrorCode } from '../errors.js';

export const exitCodes: Record<CrossrankErrorCode, number> = {
  CROSSRANK_INVALID_ARGUMENT: 2,
  CROSSRANK_MODEL_LOAD: 3,
  CROSSRANK_BACKEND_UNAVAILABLE: 4,
  CROSSRANK_OUT_OF_MEMORY: 5,
  CROSSRANK_NATIVE_LOAD: 6,
  CROSSRANK_CUDA_ERROR: 7,
  CROSSRANK_INDEX_LOAD: 8,
  CROSSRANK_OVERLOADED: 9,
  CROSSRANK_DEADLINE_EXCEEDED: 10,
  CROSSRANK_PAYLOAD_TOO_LARGE: 11,
  CROSSRANK_INTERNAL: 1,
};
