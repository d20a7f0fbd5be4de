import { describe, expect, it } from 'vitest';

import {
  BackendUnavailableError,
  CrossrankError,
  CudaError,
  errorFromCode,
  InternalError,
  InvalidArgumentError,
  ModelLoadError,
  NativeLoadError,
  OutOfMemoryError,
} from '../../src/errors.js';
import { exitCodes } from '../../src/cli/exit-codes.js';

describe('error taxonomy', () => {
  const cases = [
    ['CROSSRANK_INVALID_ARGUMENT', InvalidArgumentError],
    ['CROSSRANK_MODEL_LOAD', ModelLoadError],
    ['CROSSRANK_BACKEND_UNAVAILABLE', BackendUnavailableError],
    ['CROSSRANK_OUT_OF_MEMORY', OutOfMemoryError],
    ['CROSSRANK_CUDA_ERROR', CudaError],
    ['CROSSRANK_NATIVE_LOAD', NativeLoadError],
    ['CROSSRANK_INTERNAL', InternalError],
  ] as const;

  it.each(cases)('%s maps to its class, keeps message and name', (code, ErrorClass) => {
    const error = errorFromCode(code, 'details');
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error).toBeInstanceOf(CrossrankError);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe(code);
    expect(error.message).toBe('details');
    expect(error.name).toBe(ErrorClass.name);
    expect(new ErrorClass('x').code).toBe(code);
  });

  it('turns an unknown code into InternalError that still names the code', () => {
    const error = errorFromCode('CROSSRANK_SOMETHING_NEW', 'boom');
    expect(error).toBeInstanceOf(InternalError);
    expect(error.message).toContain('CROSSRANK_SOMETHING_NEW');
  });

  it('gives every code a distinct CLI exit code, 1 only for internal errors', () => {
    const values = cases.map(([code]) => exitCodes[code]);
    expect(new Set(values).size).toBe(values.length);
    expect(exitCodes.CROSSRANK_INTERNAL).toBe(1);
    expect(values.every((v) => v >= 1)).toBe(true);
  });

  it('keeps the cause', () => {
    const cause = new Error('root');
    expect(new ModelLoadError('wrapped', { cause }).cause).toBe(cause);
  });
});
