/**
 * The CUDA backend's own code, compiled for the CPU (native/cuda/emu: every CUDA thread a
 * fiber, barriers and warp shuffles real), checked on a machine without a GPU: every kernel
 * against its CPU reference in the op harness, the harness's model and decoder modes, and the
 * GPU test suites through the JavaScript API at small sizes. This verifies the kernels' and
 * forward passes' logic (indexing, tile edges, reductions, barriers, buffer plumbing, prefix
 * caches), not the card: speed, real races and tensor-core rounding need the device check.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { trecDlWorkload } from '../../src/bench/workload.js';
import { makeModel } from '../../src/model/make-model.js';
import { CrossEncoder } from '../../src/cross-encoder.js';
import { makeQwen3Model } from '../../src/model/qwen3.js';
import { native } from '../../src/native/load.js';
import { encoderOnCuda, qwen3OnCuda, overflowOnCuda, scoreHeadOnCuda } from '../gpu/cuda-suites.js';
import { bertTokenizerDir, repoRoot, runCli, sharedDir, tempDir } from '../helpers.js';

const emulation = join(repoRoot, 'build', 'Release', 'libcrossrank_cuda_emu.so');
const harness = join(repoRoot, 'build', 'crossrank_cuda_ops');
const selftest = join(repoRoot, 'build', 'crossrank_cuda_emu_selftest');
// A CPU stand-in for libcublasLt (native/cuda/emu/fake_cublaslt.cc): runs the cuBLASLt path.
const fakeCublasLt = join(repoRoot, 'build', 'Release', 'libcrossrank_cublaslt_emu.so');
const built = existsSync(emulation) && existsSync(harness) && existsSync(selftest) && existsSync(fakeCublasLt);
// Read when the CUDA library is first opened, below; each test file runs in its own process.
if (built) process.env.CROSSRANK_CUDA_LIBRARY = emulation;
const cuda = await native().cudaInfo();
const dir = tempDir();
afterAll(() => dir.cleanup());

function runHarness(args: string[], env: Record<string, string> = {}) {
  return spawnSync(harness, [emulation, ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, ...env } });
}
const withCublasLt = { CROSSRANK_CUDA_GEMM: 'cublaslt', CROSSRANK_CUBLASLT: fakeCublasLt };
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i])));

describe.skipIf(!built)('the CUDA backend on the CPU emulation', () => {
  it('the emulation computes what CUDA would and reports the faults it claims to catch', () => {
    const r = spawnSync(selftest, { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^0 check\(s\) failed$/m);
    expect(r.stderr).toMatch(/a barrier that not every thread/);
    expect(r.stderr).toMatch(/shuffle reads a lane that has exited/);
    expect(r.stderr).toMatch(/not 32-byte aligned/);
    expect(r.stderr).toMatch(/invalid launch/);
  });

  it('is what the engine opens, reported as an emulator', () => {
    expect(cuda.available, cuda.reason).toBe(true);
    expect(cuda.devices[0]).toMatchObject({ name: expect.stringMatching(/CPU emulator/), computeCapability: '9.0', supported: true });
  });

  it('op harness: every CUDA op equals its CPU reference (every linear and attention kernel, encoder and decoder ops)', () => {
    const r = runHarness(['--quick', '--bench'], { CROSSRANK_CUBLASLT: fakeCublasLt });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^0 case\(s\) failed$/m);
    expect(r.stdout).toMatch(/linear kernels: wide, fp16[\s\S]*linear kernels: wmma64, bf16/);
    expect(r.stdout).toMatch(/cuBLASLt: cuBLASLt 99\.0\.0[\s\S]*linear kernels: cublaslt, fp16[\s\S]*linear kernels: cublaslt, bf16/);
    expect(r.stdout).toMatch(/linear kernels: cublaslt with its tanh GELU epilogue, bf16/);
    expect(r.stdout).toMatch(/^\| linear \| .* \+gelu \| cublaslt, tanh gelu \|/m);
    expect(r.stdout).toMatch(/decoder ops: fp16[\s\S]*decoder ops: bf16/);
    expect(r.stdout).toMatch(/residual LayerNorm: fp16[\s\S]*attention kernel: warp, fp16[\s\S]*residual LayerNorm: bf16/);
    expect(r.stdout).toMatch(/attention kernel: tensor-core, bf16[\s\S]*attention kernel: mma, bf16[\s\S]*attention kernel: warp, bf16/);
    expect(r.stdout).toMatch(/dec_attention/);
    expect(r.stdout).toMatch(/decoder attention kernel: tensor-core[\s\S]*decoder attention kernel: mma[\s\S]*decoder attention kernel: warp/);
    // --bench: every op of the timing table ran (the times themselves mean nothing here)
    expect(r.stdout.match(/^\| (linear|attention|add_layernorm|dec_attention) \|.*\| [\d.]+ \| [\d.]+ \|$/gm)).toHaveLength(42);
    expect(r.stdout).not.toMatch(/MISMATCH|error/);
  }, 300_000);

  // The kernels that fill shared memory with cp.async (the pipelined linear kernels, the mma.sync
  // attention) again, with each copy landing at its thread's wait instead of when issued: a
  // read before the wait shows here, a copy into a tile still being read in the run above.
  it('op harness with cp.async copies landing as late as PTX allows: every op still equals its CPU reference', () => {
    const r = runHarness(['--quick', '--no-grid-limits'], { CROSSRANK_CUDA_EMU_CP_ASYNC: 'late' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/linear kernels: pipelined, fp16[\s\S]*attention kernel: mma, bf16[\s\S]*decoder attention kernel: mma/);
    expect(r.stdout).toMatch(/^0 case\(s\) failed$/m);
  }, 300_000);

  it.each(['fp16', 'bf16'])('harness model mode (%s): the CUDA forward pass equals the CPU reference and writes its dump', (element) => {
    const out = join(dir.path, `tiny-xlmr-${element}`);
    makeModel({ preset: 'tiny-xlmr', seed: 4, out, tokenizer: bertTokenizerDir });
    const r = runHarness(['--model', out, '--element', element, '--quick', '--dump', join(out, 'dump.json')]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`CUDA (${element}) vs CPU reference`);
    const dump = JSON.parse(readFileSync(join(out, 'dump.json'), 'utf8')) as { logits_cpu: number[]; logits_cuda: number[]; element: string };
    expect(dump.element).toBe(element);
    expect(dump.logits_cuda).toHaveLength(24);
    expect(maxDiff(dump.logits_cuda, dump.logits_cpu)).toBeLessThanOrEqual(2e-2);
  }, 300_000);

  it('CROSSRANK_CUDA_PROFILE=1: each batch shape prints where its GPU time went, stage by stage; unset, nothing', () => {
    const out = join(dir.path, 'tiny-xlmr-profile');
    makeModel({ preset: 'tiny-xlmr', seed: 4, out, tokenizer: bertTokenizerDir });
    const on = runHarness(['--model', out, '--quick', '--parity-only'], { CROSSRANK_CUDA_PROFILE: '1' });
    expect(on.status, on.stdout + on.stderr).toBe(0);
    const line = on.stderr.split('\n').find((l) => l.startsWith('crossrank CUDA profile, encoder, 24 sequences'));
    expect(line, on.stderr).toBeDefined();
    for (const stage of ['embedding', 'qkv', 'attention', 'attention out', 'add+LayerNorm', 'ffn in+GELU', 'ffn out', 'head']) {
      expect(line).toMatch(new RegExp(`[:,] ${stage.replace('+', '\\+')} [\\d.]+ ms \\(\\d+%\\)`));
    }
    const off = runHarness(['--model', out, '--quick', '--parity-only']);
    expect(off.status).toBe(0);
    expect(off.stderr).not.toMatch(/crossrank CUDA profile/);
  });

  // The same forward pass with another engine for one part of it.
  it.each([
    ['fp16', 'the one-pass mma.sync attention', 'mma', 7, { CROSSRANK_CUDA_ATTENTION: 'mma' }],
    ['bf16', 'the one-pass mma.sync attention', 'mma', 7, { CROSSRANK_CUDA_ATTENTION: 'mma' }],
    ['fp16', 'cuBLASLt running the linear layers', 'lt', 5, withCublasLt],
    ['bf16', 'cuBLASLt running the linear layers', 'lt', 5, withCublasLt],
  ] as const)('harness model mode (%s) with %s: equals the CPU reference', (element, _engine, tag, seed, env) => {
    const out = join(dir.path, `tiny-xlmr-${tag}-${element}`);
    makeModel({ preset: 'tiny-xlmr', seed, out, tokenizer: bertTokenizerDir });
    const r = runHarness(['--model', out, '--element', element, '--quick', '--parity-only', '--dump', join(out, 'dump.json')], env);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const dump = JSON.parse(readFileSync(join(out, 'dump.json'), 'utf8')) as { logits_cpu: number[]; logits_cuda: number[] };
    expect(maxDiff(dump.logits_cuda, dump.logits_cpu)).toBeLessThanOrEqual(2e-2);
  }, 300_000);

  it('cuBLASLt asked for but not there: the model is refused at load with the reason, nothing computed', () => {
    const out = join(dir.path, 'tiny-no-lt');
    makeModel({ preset: 'tiny', seed: 5, out, tokenizer: bertTokenizerDir });
    const r = runHarness(['--model', out, '--quick', '--parity-only'], { ...withCublasLt, CROSSRANK_CUBLASLT: join(dir.path, 'missing.so') });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/CROSSRANK_CUDA_GEMM=cublaslt: cuBLASLt could not be opened \(.*missing\.so/);
  });

  it('through the JavaScript API with cuBLASLt running the linear layers: encoder and decoder equal the CPU reference', async () => {
    const { encoder, decoder } = tinyEncoderAndDecoder('lt-js', 6);
    const work = trecDlWorkload(1, 8);
    for (const model of [encoder, decoder]) {
      const cpu = await CrossEncoder.load(model, { backend: 'native' });
      const want = await cpu.score(work.queries[0], work.docs[0]);
      await cpu.dispose();
      await withEnv(withCublasLt, async () => {
        const gpu = await CrossEncoder.load(model, { backend: 'native', device: 'cuda' });
        const got = await gpu.score(work.queries[0], work.docs[0]);
        await gpu.dispose();
        expect(maxDiff(got, want)).toBeLessThanOrEqual(2e-2);
      });
    }
  });

  // A tiny encoder and a qwen3-tiny decoder, written for one test.
  function tinyEncoderAndDecoder(name: string, seed: number) {
    const encoder = join(dir.path, `tiny-${name}`);
    makeModel({ preset: 'tiny', seed, out: encoder, tokenizer: bertTokenizerDir });
    const decoder = join(dir.path, `qwen3-tiny-${name}`);
    makeQwen3Model({ preset: 'qwen3-tiny', seed, out: decoder, tokenizer: join(sharedDir, 'tokenizers', 'qwen3') });
    return { encoder, decoder };
  }

  // Runs fn with these variables set (null: unset), restoring them after: the engine reads
  // them when a model is created, and the fake cuBLASLt at each call.
  async function withEnv<T>(vars: Record<string, string | null>, fn: () => Promise<T>): Promise<T> {
    const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
    for (const [k, v] of Object.entries(vars)) {
      if (v === null) delete process.env[k];
      else process.env[k] = v;
    }
    try {
      return await fn();
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }
  const traceLines = (file: string, kind: string) =>
    existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith(`${kind} `)).length : 0;

  it('by default, encoders run their linear layers on cuBLASLt where it opens, the decoder on its own kernels', async () => {
    const { encoder, decoder } = tinyEncoderAndDecoder('auto', 8);
    const work = trecDlWorkload(1, 6);
    const trace = join(dir.path, 'auto.trace');
    for (const [model, family] of [[encoder, 'encoder'], [decoder, 'decoder']] as const) {
      const cpu = await CrossEncoder.load(model, { backend: 'native' });
      const want = await cpu.score(work.queries[0], work.docs[0]);
      await cpu.dispose();
      writeFileSync(trace, '');
      await withEnv({ CROSSRANK_CUDA_GEMM: null, CROSSRANK_CUBLASLT: fakeCublasLt, CROSSRANK_FAKE_CUBLASLT_TRACE: trace }, async () => {
        const gpu = await CrossEncoder.load(model, { backend: 'native', device: 'cuda' });
        const got = await gpu.score(work.queries[0], work.docs[0]);
        await gpu.dispose();
        expect(maxDiff(got, want)).toBeLessThanOrEqual(2e-2);
        expect(gpu.info.linearLayers).toBe(family === 'encoder' ? 'cublaslt' : 'pipelined');
        expect(traceLines(trace, 'matmul') > 0).toBe(family === 'encoder');
      });
    }
    // Where it does not open, the own kernels, without a word (a process opens it once: a new one).
    const args = ['bench', '--preset', 'tiny', '--tokenizer', bertTokenizerDir, '--backend', 'native', '--device', 'cuda', '--docs', '4', '--queries', '1', '--warmup', '1', '--json'];
    const off = runCli(args, { CROSSRANK_CUDA_LIBRARY: emulation, CROSSRANK_CUDA_GEMM: undefined, CROSSRANK_CUBLASLT: 'off' });
    expect(off.status, off.stderr).toBe(0);
    expect(JSON.parse(off.stdout)).toMatchObject({ device: 'cuda', linearLayers: 'pipelined' });
  });

  it('CROSSRANK_CUDA_GELU=tanh: cuBLASLt applies GELU in its epilogue (the tanh approximation), within 2e-2 of the exact CPU reference', async () => {
    const { encoder } = tinyEncoderAndDecoder('tanh-gelu', 12);
    const work = trecDlWorkload(1, 8);
    const cpu = await CrossEncoder.load(encoder, { backend: 'native' });
    const want = await cpu.score(work.queries[0], work.docs[0]);
    await cpu.dispose();
    const trace = join(dir.path, 'tanh-gelu.trace');
    const run = async (gelu: string | null) => {
      writeFileSync(trace, '');
      return withEnv({ ...withCublasLt, CROSSRANK_CUDA_GELU: gelu, CROSSRANK_FAKE_CUBLASLT_TRACE: trace }, async () => {
        const gpu = await CrossEncoder.load(encoder, { backend: 'native', device: 'cuda' });
        const scores = await gpu.score(work.queries[0], work.docs[0]);
        await gpu.dispose();
        const epilogues = readFileSync(trace, 'utf8').trim().split('\n').filter((l) => l.startsWith('matmul ')).map((l) => l.split(' ')[4]);
        return { scores, info: gpu.info, epilogues: new Set(epilogues) };
      });
    };
    const exact = await run(null);
    const tanh = await run('tanh');
    expect(exact.info).toMatchObject({ linearLayers: 'cublaslt', gelu: 'exact' });
    expect(tanh.info).toMatchObject({ linearLayers: 'cublaslt', gelu: 'tanh' });
    // BIAS (4) on every layer without it; GELU_BIAS (36) on the feed-forward's first layer only with tanh.
    expect(exact.epilogues).toEqual(new Set(['4']));
    expect(tanh.epilogues).toEqual(new Set(['4', '36']));
    expect(maxDiff(tanh.scores, want)).toBeLessThanOrEqual(2e-2);
    expect(maxDiff(tanh.scores, exact.scores)).toBeGreaterThan(0); // the approximation did run
    // The own kernels fuse the exact GELU anyway: the setting changes nothing there.
    const own = await withEnv({ CROSSRANK_CUDA_GEMM: 'pipelined', CROSSRANK_CUDA_GELU: 'tanh' }, async () => {
      const gpu = await CrossEncoder.load(encoder, { backend: 'native', device: 'cuda' });
      await gpu.dispose();
      return gpu.info;
    });
    expect(own).toMatchObject({ linearLayers: 'pipelined', gelu: 'exact' });
    // crossrank bench says which GELU it timed.
    const args = ['bench', '--preset', 'tiny', '--tokenizer', bertTokenizerDir, '--backend', 'native', '--device', 'cuda', '--docs', '4', '--queries', '1', '--warmup', '1', '--json'];
    const bench = runCli(args, { CROSSRANK_CUDA_LIBRARY: emulation, ...withCublasLt, CROSSRANK_CUDA_GELU: 'tanh' });
    expect(bench.status, bench.stderr).toBe(0);
    expect(JSON.parse(bench.stdout)).toMatchObject({ linearLayers: 'cublaslt', gelu: 'tanh' });
    await withEnv({ CROSSRANK_CUDA_GELU: 'fast' }, async () => {
      await expect(CrossEncoder.load(encoder, { backend: 'native', device: 'cuda' })).rejects.toMatchObject({
        code: 'CROSSRANK_INVALID_ARGUMENT',
        message: expect.stringMatching(/CROSSRANK_CUDA_GELU must be one of exact, tanh; got "fast"/),
      });
    });
  });

  it('the decoder on cuBLASLt (on request) finds one batch-invariant plan per shape, whatever its batches', async () => {
    const decoder = join(dir.path, 'qwen3-tiny-invariant');
    makeQwen3Model({ preset: 'qwen3-tiny', seed: 11, out: decoder, tokenizer: join(sharedDir, 'tokenizers', 'qwen3') });
    const work = trecDlWorkload(3, 5);
    const trace = join(dir.path, 'invariant.trace');
    writeFileSync(trace, '');
    await withEnv({ CROSSRANK_CUDA_GEMM: 'cublaslt', CROSSRANK_CUBLASLT: fakeCublasLt, CROSSRANK_FAKE_CUBLASLT_TRACE: trace }, async () => {
      const gpu = await CrossEncoder.load(decoder, { backend: 'native', device: 'cuda' });
      for (const [i, query] of work.queries.entries()) await gpu.score(query, work.docs[i].slice(0, 2 + i));
      await gpu.dispose();
    });
    const lines = readFileSync(trace, 'utf8').trim().split('\n');
    const heuristics = lines.filter((l) => l.startsWith('heuristic '));
    const matmuls = lines.filter((l) => l.startsWith('matmul ')).map((l) => l.split(' '));
    const batchRows = new Set(matmuls.map((f) => f[2]));
    const shapes = new Set(matmuls.map((f) => `${f[1]} ${f[3]}`)); // n x k
    // Batches of three sizes (each query's prefix and documents): several row counts, one plan per shape
    // (q/k/v, output, gate/up, down: two distinct here), each found for the same fixed row count.
    expect(batchRows.size).toBeGreaterThanOrEqual(3);
    expect(shapes.size).toBeGreaterThanOrEqual(2);
    expect(heuristics).toHaveLength(shapes.size);
    expect(new Set(heuristics.map((l) => l.split(' ')[2]))).toEqual(new Set(['8192']));
  });

  it('a CROSSRANK_CUDA_GEMM that names no engine is refused at load, before anything is uploaded', async () => {
    const encoder = join(dir.path, 'tiny-bad-gemm');
    makeModel({ preset: 'tiny', seed: 9, out: encoder, tokenizer: bertTokenizerDir });
    await withEnv({ CROSSRANK_CUDA_GEMM: 'cublas' }, async () => {
      await expect(CrossEncoder.load(encoder, { backend: 'native', device: 'cuda' })).rejects.toMatchObject({
        code: 'CROSSRANK_INVALID_ARGUMENT',
        message: expect.stringMatching(/CROSSRANK_CUDA_GEMM must be one of auto, cublaslt, pipelined, wide, wmma64; got "cublas"/),
      });
      // The CPU paths do not read it.
      const cpu = await CrossEncoder.load(encoder, { backend: 'native' });
      await cpu.dispose();
    });
  });

  it('cuBLASLt plans are found once per bucket of batch sizes, and a size the bucket cannot take gets its own', async () => {
    const encoder = join(dir.path, 'tiny-buckets');
    makeModel({ preset: 'tiny', seed: 10, out: encoder, tokenizer: bertTokenizerDir });
    // One word is one token here: a pair is [CLS] q [SEP] words [SEP], so 4 documents of 60
    // and of 50 words make 256 and 216 rows (one bucket: 193-256), 5 of 60 make 320 (the next).
    const docs = (count: number, words: number) => Array.from({ length: count }, (_, i) => Array(words).fill(['apple', 'river', 'stone', 'cloud'][i % 4]).join(' '));
    const batches = [docs(4, 60), docs(4, 50), docs(5, 60)];
    const cpu = await CrossEncoder.load(encoder, { backend: 'native' });
    const want = await Promise.all(batches.map((b) => cpu.score('query', b)));
    await cpu.dispose();
    for (const exact of ['0', '1']) {
      const trace = join(dir.path, `buckets-${exact}.trace`);
      writeFileSync(trace, '');
      await withEnv({ CROSSRANK_CUDA_GEMM: null, CROSSRANK_CUBLASLT: fakeCublasLt, CROSSRANK_FAKE_CUBLASLT_TRACE: trace, CROSSRANK_FAKE_CUBLASLT_EXACT: exact }, async () => {
        const gpu = await CrossEncoder.load(encoder, { backend: 'native', device: 'cuda' });
        const heuristics: number[] = [];
        for (const [i, batch] of batches.entries()) {
          const got = await gpu.score('query', batch);
          expect(maxDiff(got, want[i])).toBeLessThanOrEqual(2e-2);
          heuristics.push(traceLines(trace, 'heuristic'));
        }
        await gpu.dispose();
        expect(heuristics[0]).toBeGreaterThan(0);
        if (exact === '0') {
          // The second batch reuses the first's plans; the third is in a new bucket.
          expect(heuristics[1]).toBe(heuristics[0]);
          expect(heuristics[2]).toBe(2 * heuristics[0]);
        } else {
          // Algorithms that take only their own size: each bucket plan is turned down once
          // (from the second batch on) and answered with an exact plan.
          expect(heuristics[1]).toBe(2 * heuristics[0]);
          expect(heuristics[2]).toBe(3 * heuristics[0]);
        }
      });
    }
  });

  it('crossrank bench names the linear-layer engine it was asked for', () => {
    const args = ['bench', '--preset', 'tiny', '--tokenizer', bertTokenizerDir, '--backend', 'native', '--device', 'cuda', '--docs', '4', '--queries', '2', '--warmup', '1'];
    const run = runCli(args, { CROSSRANK_CUDA_LIBRARY: emulation, ...withCublasLt });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^preset:tiny on native\/cuda \(fp16, linear layers: cublaslt\)/m);
    const json = runCli([...args, '--json'], { CROSSRANK_CUDA_LIBRARY: emulation, ...withCublasLt });
    expect(JSON.parse(json.stdout)).toMatchObject({ device: 'cuda', precision: 'fp16', linearLayers: 'cublaslt' });
  });

  it('crossrank doctor reports whether cuBLASLt opens, and how it is used', () => {
    const found = runCli(['doctor'], { CROSSRANK_CUDA_LIBRARY: emulation, CROSSRANK_CUBLASLT: fakeCublasLt });
    expect(found.status, found.stderr).toBe(0);
    expect(found.stdout).toMatch(/^cublaslt\s+cuBLASLt 99\.0\.0 \(.*libcrossrank_cublaslt_emu\.so\), runs the encoders' linear layers/m);
    const off = runCli(['doctor', '--json'], { CROSSRANK_CUDA_LIBRARY: emulation, CROSSRANK_CUBLASLT: 'off' });
    expect(off.status, off.stderr).toBe(0);
    expect(JSON.parse(off.stdout).cuda.cublasLt).toEqual({ available: false, detail: 'cuBLASLt is off (CROSSRANK_CUBLASLT=off)' });
  });

  it('harness decoder mode: the CUDA decoder equals the CPU reference, shared = unshared, on real prompts', () => {
    const out = join(dir.path, 'qwen3-tiny');
    makeQwen3Model({ preset: 'qwen3-tiny', seed: 2, out, tokenizer: join(sharedDir, 'tokenizers', 'qwen3') });
    const prompts = join(dir.path, 'prompts.json');
    const p = spawnSync('node', [join(repoRoot, 'scripts', 'device', 'qwen3-prompts.mjs'), '--queries', '2', '--docs', '3', '--out', prompts], {
      encoding: 'utf8',
      cwd: repoRoot,
    });
    expect(p.status, p.stderr).toBe(0);
    // The layers' own kernels, then cuBLASLt (its CPU stand-in) running the linear layers, then
    // the one-pass mma.sync attention.
    for (const env of [{}, withCublasLt, { CROSSRANK_CUDA_ATTENTION: 'mma' }] as Record<string, string>[]) {
      const r = runHarness(['--qwen3', out, '--prompts', prompts, '--cpu-docs', '3', '--quick', '--dump', join(out, 'dump.json')], env);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      const dump = JSON.parse(readFileSync(join(out, 'dump.json'), 'utf8')) as {
        cpu_reference: { max_yes_diff: number };
        queries: { logits_shared: number[]; logits_unshared: number[] }[];
      };
      expect(dump.cpu_reference.max_yes_diff).toBeLessThanOrEqual(2e-2);
      expect(dump.queries).toHaveLength(2);
      for (const q of dump.queries) {
        expect(q.logits_shared).toHaveLength(6);
        // Every row computes as it would alone (row-independent kernels), so sharing changes nothing.
        expect(q.logits_shared).toEqual(q.logits_unshared);
      }
    }
  }, 300_000);

  it('load progress on CUDA: one report per layer as the encoder and the decoder feed the upload', async () => {
    const decoder = join(dir.path, 'qwen3-tiny-progress');
    makeQwen3Model({ preset: 'qwen3-tiny', seed: 3, out: decoder, tokenizer: join(sharedDir, 'tokenizers', 'qwen3') });
    const encoder = join(dir.path, 'tiny-progress');
    makeModel({ preset: 'tiny', seed: 3, out: encoder, tokenizer: bertTokenizerDir });
    for (const model of [decoder, encoder]) {
      const seen: [number, number][] = [];
      const gpu = await CrossEncoder.load(model, { backend: 'native', device: 'cuda', onLoadProgress: (done, total) => seen.push([done, total]) });
      await gpu.dispose();
      expect(seen).toEqual([
        [1, 2],
        [2, 2],
      ]);
    }
  });

  it("an encoder layer that fails to load during the CUDA upload is a ModelLoadError naming it", async () => {
    const out = join(dir.path, 'tiny-bad-layer');
    makeModel({ preset: 'tiny', seed: 3, out, tokenizer: bertTokenizerDir });
    // config.json now implies a wider feed-forward than layer 0's tensors have.
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { intermediate_size: number };
    config.intermediate_size += 16;
    writeFileSync(join(out, 'config.json'), JSON.stringify(config));
    await expect(CrossEncoder.load(out, { backend: 'native', device: 'cuda' })).rejects.toMatchObject({
      code: 'CROSSRANK_MODEL_LOAD',
      message: expect.stringMatching(/bert\.encoder\.layer\.0\.intermediate\.dense\.weight has shape \[64, 32\]/),
    });
  });

  it('a layer that fails to load during the CUDA upload (fed one layer at a time) is a ModelLoadError naming it', async () => {
    const out = join(dir.path, 'qwen3-tiny-bad-layer');
    makeQwen3Model({ preset: 'qwen3-tiny', seed: 3, out, tokenizer: join(sharedDir, 'tokenizers', 'qwen3') });
    // config.json now implies a wider feed-forward than layer 0's tensors have.
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { intermediate_size: number };
    config.intermediate_size += 16;
    writeFileSync(join(out, 'config.json'), JSON.stringify(config));
    await expect(CrossEncoder.load(out, { backend: 'native', device: 'cuda' })).rejects.toMatchObject({
      code: 'CROSSRANK_MODEL_LOAD',
      message: expect.stringMatching(/model\.layers\.0\.mlp\.gate_proj\.weight has shape \[64, 32\]/),
    });
  });

  describe('the GPU suites at small sizes', () => {
    encoderOnCuda(['tiny', 'tiny-xlmr', 'tinybert-l4'], 12);
    qwen3OnCuda(2, 4);
    overflowOnCuda();
    scoreHeadOnCuda(2_000);
  });
});
