/**
 * The loader's error paths: a missing, corrupt or foreign CUDA backend library never
 * stops the addon from loading; a missing or corrupt addon is reported with what was
 * tried and the remedy, as a NativeLoadError, never a crash at import.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { runCli, runNode, tempDir } from '../helpers.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

function doctorJson(env: Record<string, string>) {
  const run = runCli(['doctor', '--json'], env);
  expect(run.stderr).not.toMatch(/Segmentation|Aborted|core dumped/);
  return { status: run.status, report: JSON.parse(run.stdout) };
}

// After the CUDA library failed to load, CPU work must still run.
const cpuScoreCheck = `
  import { applyScoreHead } from './dist/index.js';
  const scores = await applyScoreHead(Float32Array.from([0, 2]), { numLabels: 1 });
  console.log(JSON.stringify(Array.from(scores)));
`;

describe('CUDA backend library loading', () => {
  const corrupt = join(dir.path, 'libcrossrank_cuda.so');
  writeFileSync(corrupt, Buffer.from('this is not an ELF shared object, just bytes'.repeat(20)));

  const cases: [string, Record<string, string>, string, RegExp][] = [
    ['missing', { CROSSRANK_CUDA_LIBRARY: join(dir.path, 'absent.so') }, 'library-missing', /not found at .*absent\.so/],
    ['corrupt', { CROSSRANK_CUDA_LIBRARY: corrupt }, 'library-invalid', /cannot open CUDA backend library/],
    // A real shared library that is not ours: opens, lacks the entry points.
    ['foreign', { CROSSRANK_CUDA_LIBRARY: 'libm.so.6' }, 'library-invalid', /not a crossrank CUDA backend/],
    ['disabled', { CROSSRANK_CUDA: '0' }, 'disabled', /CROSSRANK_CUDA=0/],
  ];

  it.each(cases)('%s library: addon loads, CUDA reported unavailable with a reason', (_name, env, code, reason) => {
    // libm.so.6 is found through the loader's search path, not as a file: give its real path.
    const resolved = env.CROSSRANK_CUDA_LIBRARY === 'libm.so.6' ? { CROSSRANK_CUDA_LIBRARY: findLibm() } : env;
    const { status, report } = doctorJson(resolved);
    expect(status).toBe(0);
    expect(report.native.loaded).toBe(true);
    expect(report.cuda.available).toBe(false);
    expect(report.cuda.reasonCode).toBe(code);
    expect(report.cuda.reason).toMatch(reason);
    expect(report.cuda.devices).toEqual([]);

    const cpu = runNode(cpuScoreCheck, resolved);
    expect(cpu.status, cpu.stderr).toBe(0);
    expect(JSON.parse(cpu.stdout)).toEqual([0.5, 1 / (1 + Math.exp(-2))].map(Math.fround));
  });

  it('turns CUDA work into BackendUnavailableError when the library is missing', () => {
    const run = runNode(
      `
      import { applyScoreHead, BackendUnavailableError } from './dist/index.js';
      try {
        await applyScoreHead(Float32Array.from([1]), { numLabels: 1 }, { device: 'cuda' });
        console.log('resolved');
      } catch (e) {
        console.log(JSON.stringify({ typed: e instanceof BackendUnavailableError, code: e.code, message: e.message }));
      }`,
      { CROSSRANK_CUDA_LIBRARY: join(dir.path, 'absent.so') },
    );
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out).toMatchObject({ typed: true, code: 'CROSSRANK_BACKEND_UNAVAILABLE' });
    expect(out.message).toMatch(/CUDA is not available: CUDA backend library not found/);
  });
});

/** The path of the libm this process has mapped (any real non-crossrank shared library will do). */
function findLibm(): string {
  const line = readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .find((l) => /\/libm[.-][^/]*so/.test(l));
  if (!line) throw new Error('libm not mapped into this process');
  return line.slice(line.indexOf('/'));
}

describe('native addon loading', () => {
  it('imports without throwing when the addon cannot be found, and says why in doctor', () => {
    const missing = join(dir.path, 'nowhere', 'crossrank.node');
    const { status, report } = doctorJson({ CROSSRANK_NATIVE: missing });
    expect(status).toBe(1);
    expect(report.native.loaded).toBe(false);
    expect(report.native.path).toBeNull();
    expect(report.native.error).toContain(missing);
    expect(report.native.error).toMatch(/linux-x64|darwin|win32/);
    expect(report.native.error).toMatch(/Remedy: .*build-from-source/s);
    expect(report.cuda).toMatchObject({ available: false, reasonCode: 'native-not-loaded' });
    expect(report.onnxruntime.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('reports a corrupt addon as NativeLoadError on first use', () => {
    const corrupt = join(dir.path, 'corrupt.node');
    writeFileSync(corrupt, Buffer.alloc(4096, 7));
    const run = runNode(
      `
      import { applyScoreHead, NativeLoadError, nativeStatus } from './dist/index.js';
      const status = nativeStatus();
      try {
        await applyScoreHead(Float32Array.from([1]), { numLabels: 1 });
      } catch (e) {
        console.log(JSON.stringify({ loaded: status.loaded, typed: e instanceof NativeLoadError, code: e.code, message: e.message }));
      }`,
      { CROSSRANK_NATIVE: corrupt },
    );
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out).toMatchObject({ loaded: false, typed: true, code: 'CROSSRANK_NATIVE_LOAD' });
    expect(out.message).toContain(corrupt);
    expect(out.message).toMatch(/invalid ELF header|not a valid/i);
  });
});
