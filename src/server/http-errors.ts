/**
 * The one place where errors become HTTP answers: a status per CrossrankError code, and the
 * body `{error: {code, message}}`. Anything that is not a CrossrankError is a 500 with a
 * generic message (its details go to the log, not to the client).
 */
import { CrossrankError, type CrossrankErrorCode } from '../errors.js';

export const httpStatus: Record<CrossrankErrorCode, number> = {
  CROSSRANK_INVALID_ARGUMENT: 400,
  CROSSRANK_PAYLOAD_TOO_LARGE: 413,
  CROSSRANK_OVERLOADED: 429,
  CROSSRANK_DEADLINE_EXCEEDED: 504,
  CROSSRANK_BACKEND_UNAVAILABLE: 503,
  CROSSRANK_OUT_OF_MEMORY: 503,
  CROSSRANK_MODEL_LOAD: 500,
  CROSSRANK_INDEX_LOAD: 500,
  CROSSRANK_NATIVE_LOAD: 500,
  CROSSRANK_CUDA_ERROR: 500,
  CROSSRANK_INTERNAL: 500,
};

export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorResponse(error: unknown): { status: number; body: ErrorBody; retryAfter?: number } {
  if (error instanceof CrossrankError) {
    const retryAfter = 'retryAfterSeconds' in error ? (error as { retryAfterSeconds: number }).retryAfterSeconds : undefined;
    return { status: httpStatus[error.code] ?? 500, body: { error: { code: error.code, message: error.message } }, retryAfter };
  }
  return { status: 500, body: { error: { code: 'CROSSRANK_INTERNAL', message: 'internal error (see the server log)' } } };
}
