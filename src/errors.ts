/**
 * The error taxonomy. Every failure crossrank reports is a CrossrankError with a stable
 * `code`; native code hands its failures to `errorFromCode` (registered with the addon at
 * load time), so errors keep their class across the boundary. The CLI maps codes to exit
 * codes and the server to HTTP statuses, each in one place.
 */

export type CrossrankErrorCode =
  | 'CROSSRANK_INVALID_ARGUMENT'
  | 'CROSSRANK_MODEL_LOAD'
  | 'CROSSRANK_BACKEND_UNAVAILABLE'
  | 'CROSSRANK_OUT_OF_MEMORY'
  | 'CROSSRANK_CUDA_ERROR'
  | 'CROSSRANK_NATIVE_LOAD'
  | 'CROSSRANK_INDEX_LOAD'
  | 'CROSSRANK_OVERLOADED'
  | 'CROSSRANK_DEADLINE_EXCEEDED'
  | 'CROSSRANK_PAYLOAD_TOO_LARGE'
  | 'CROSSRANK_INTERNAL';

export class CrossrankError extends Error {
  readonly code: CrossrankErrorCode;

  constructor(code: CrossrankErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A caller passed something crossrank cannot use (wrong type, shape, range). */
export class InvalidArgumentError extends CrossrankError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CROSSRANK_INVALID_ARGUMENT', message, options);
  }
}

/** A model directory, file or download is missing, malformed or inconsistent. */
export class ModelLoadError extends CrossrankError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CROSSRANK_MODEL_LOAD', message, options);
  }
}

/** The requested backend or device cannot be used on this machine (the message says why). */
export class BackendUnavailableError extends CrossrankError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CROSSRANK_BACKEND_UNAVAILABLE', message, options);
  }
}

/** Host or device memory ran out; a smaller batch or max length may succeed. */
export class OutOfMemoryError extends CrossrankError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CROSSRANK_OUT_OF_MEMORY', message, options);
  }
}

/** A CUDA call failed for a reason other than memory (the message has the CUDA error). */
export class CudaError extends CrossrankError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CROSSRANK_CUDA_ERROR', message, options);
  }
}

/** The native addon could not be loaded (the message lists what was tried and the remedy). */
export class NativeLoadError extends CrossrankError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CROSSRANK_NATIVE_LOAD', message, options);
  }
}

/** A saved index (BM25, HNSW, document store) that is missing, corrupt or from another version. */
export class IndexLoadError extends CrossrankError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CROSSRANK_INDEX_LOAD', message, options);
  }
}

/** Too much work is queued: try again later (the server answers 429 with Retry-After). */
export class OverloadedError extends CrossrankError {
  /** Seconds after which a retry is likely to be admitted. */
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds = 1, options?: { cause?: unknown }) {
    super('CROSSRANK_OVERLOADED', message, options);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A request's deadline passed before it was done. */
export class DeadlineExceededError extends CrossrankError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CROSSRANK_DEADLINE_EXCEEDED', message, options);
  }
}

/** A request larger than the configured limits (body size, documents, document length). */
export class PayloadTooLargeError extends CrossrankError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CROSSRANK_PAYLOAD_TOO_LARGE', message, options);
  }
}

/** A bug in crossrank: please report it. */

export class InternalError extends CrossrankError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CROSSRANK_INTERNAL', message, options);
  }
}

const byCode: Record<CrossrankErrorCode, new (message: string) => CrossrankError> = {
  CROSSRANK_INVALID_ARGUMENT: InvalidArgumentError,
  CROSSRANK_MODEL_LOAD: ModelLoadError,
  CROSSRANK_BACKEND_UNAVAILABLE: BackendUnavailableError,
  CROSSRANK_OUT_OF_MEMORY: OutOfMemoryError,
  CROSSRANK_CUDA_ERROR: CudaError,
  CROSSRANK_NATIVE_LOAD: NativeLoadError,
  CROSSRANK_INDEX_LOAD: IndexLoadError,
  CROSSRANK_OVERLOADED: OverloadedError,
  CROSSRANK_DEADLINE_EXCEEDED: DeadlineExceededError,
  CROSSRANK_PAYLOAD_TOO_LARGE: PayloadTooLargeError,
  CROSSRANK_INTERNAL: InternalError,
};

/** The typed error for a code; unknown codes become InternalError (keeping the code in the message). */
export function errorFromCode(code: string, message: string): CrossrankError {
  const ErrorClass = byCode[code as CrossrankErrorCode];
  return ErrorClass ? new ErrorClass(message) : new InternalError(`${code}: ${message}`);
}

export function isCrossrankError(value: unknown): value is CrossrankError {
  return value instanceof CrossrankError;
}
