/**
 * The synthetic Qwen3 reranker that make-model writes: its ONNX graph (run by onnxruntime-node,
 * right- and left-padded batches) against an independent float64 PyTorch forward pass of the
 * same model.safetensors (scripts/reference/qwen3_logits.py) — yes/no logits at the last real
 * position, on real TREC DL prompts built with the real Qwen3 tokenizer.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { onnxExternalFiles } from '../../src/hub/companion-files.js';
import { Qwen3PromptTokenizer } from '../../src/llm/qwen3-reranker-prompt.js';
import { makeQwen3Model } from '../../src/model/qwen3.js';
import { bm25Pairs, loadTrecDl } from '../fixtures/trec-dl.js';
import { repoRoot, runCli, sharedDir, tempDir } from '../helpers.js';

const PYTHON = '/usr/bin/python3';
const hasTorch = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torch']).status === 0;
const qwenTokenizer = join(sharedDir, 'tokenizers', 'qwen3');
const dir = tempDir();
const model = join(dir.path, 'qwen3-tiny');
let sequences: number[][];
let answer: [number, number];

beforeAll(async () => {
  makeQwen3Model({ preset: 'qwen3-tiny', seed: 7, out: model, tokenizer: qwenTokenizer });
  const t = Qwen3PromptTokenizer.fromFile(join(qwenTokenizer, 'tokenizer.json'));
  answer = [t.yesId, t.noId];
  sequences = [];
  for (const [query, doc] of bm25Pairs(loadTrecDl(), 31, 12)) {
    const p = await t.encode(query, [doc], { maxLength: 160 });
    sequences.push([...p.prefix, ...p.documents[0], ...p.suffix]);
  }
}, 120_000);
afterAll(() => dir.cleanup());

async function onnxLastLogits(left: boolean, modelDir = model): Promise<number[][]> {
  const session = await ort.InferenceSession.create(join(modelDir, 'onnx', 'model.onnx'));
  const S = Math.max(...sequences.map((s) => s.length));
  const B = sequences.length;
  const ids = new BigInt64Array(B * S).fill(151643n); // <|endoftext|> pads
  const mask = new BigInt64Array(B * S);
  const positions = new BigInt64Array(B * S);
  sequences.forEach((s, b) => {
    const offset = left ? S - s.length : 0;
    s.forEach((id, i) => {
      ids[b * S + offset + i] = BigInt(id);
      mask[b * S + offset + i] = 1n;
      positions[b * S + offset + i] = BigInt(i);
    });
  });
  const tensor = (data: BigInt64Array) => new ort.Tensor('int64', data, [B, S]);
  const feeds: Record<string, ort.Tensor> = { input_ids: tensor(ids), attention_mask: tensor(mask), position_ids: tensor(positions) };
  // The key/value cache (make-model's default graph): empty, every prompt whole.
  for (const name of session.inputNames.filter((n) => n.startsWith('past_key_values.'))) feeds[name] = new ort.Tensor('float32', new Float32Array(0), [B, 2, 0, 16]);
  const { yes_no_logits: out } = await session.run(feeds);
  await session.release();
  const data = out.data as Float32Array;
  return sequences.map((s, b) => {
    const last = left ? S - 1 : s.length - 1;
    return [data[(b * S + last) * 2], data[(b * S + last) * 2 + 1]];
  });
}

describe('make-model --preset qwen3-tiny', () => {
  it('writes the Qwen3ForCausalLM layout', async () => {
    const out = join(dir.path, 'cli-qwen3');
    const r = runCli(['make-model', '--preset', 'qwen3-tiny', '--out', out, '--tokenizer', qwenTokenizer, '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).files).toEqual(['config.json', 'model.safetensors', 'onnx/model.onnx', 'tokenizer.json', 'tokenizer_config.json']);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))).toMatchObject({ architectures: ['Qwen3ForCausalLM'], num_key_value_heads: 2, head_dim: 16 });
    expect(runCli(['make-model', '--preset', 'qwen3-tiny', '--out', join(dir.path, 'x'), '--dtype', 'fp16', '--tokenizer', qwenTokenizer]).status).toBe(2);
  });

  it("keeps the graph's weights in onnx/model.onnx_data when asked (as past 2 GB: qwen3-0.6b), and ONNX Runtime reads the same model", async () => {
    const out = join(dir.path, 'qwen3-external');
    makeQwen3Model({ preset: 'qwen3-tiny', seed: 7, out, tokenizer: qwenTokenizer, onnxExternalData: true });
    const inline = statSync(join(model, 'onnx', 'model.onnx')).size;
    const graph = statSync(join(out, 'onnx', 'model.onnx')).size;
    const data = statSync(join(out, 'onnx', 'model.onnx_data')).size;
    expect(graph).toBeLessThan(inline / 10); // the weights moved out
    expect(data).toBeGreaterThan(inline * 0.9);
    expect(onnxExternalFiles(readFileSync(join(out, 'onnx', 'model.onnx')), 'onnx/model.onnx')).toEqual(['onnx/model.onnx_data']);
    // The same values, read from the side file: bit-identical logits.
    expect(await onnxLastLogits(false, out)).toEqual(await onnxLastLogits(false));
  });
});

function reference(seqs: number[][], flags: string[] = []): { logits: number[][]; onnx_check: string } {
  const run = spawnSync(PYTHON, [join(repoRoot, 'scripts', 'reference', 'qwen3_logits.py'), model, ...flags], {
    input: JSON.stringify({ sequences: seqs, token_ids: answer }),
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout);
}

describe('config.json variants the native decoder reads', () => {
  it("transformers 5's rope_parameters equal 4.x's rope_theta; scaled rotary embeddings are refused", async () => {
    const { CrossEncoder } = await import('../../src/cross-encoder.js');
    const pairs = bm25Pairs(loadTrecDl(), 31, 6);
    const withConfig = async (edit: (c: Record<string, unknown>) => void, name: string) => {
      const copy = join(dir.path, name);
      cpSync(model, copy, { recursive: true });
      const config = JSON.parse(readFileSync(join(copy, 'config.json'), 'utf8')) as Record<string, unknown>;
      edit(config);
      writeFileSync(join(copy, 'config.json'), JSON.stringify(config));
      return copy;
    };
    const v5 = await withConfig((c) => {
      c.rope_parameters = { rope_type: 'default', rope_theta: c.rope_theta };
      delete c.rope_theta;
      delete c.rope_scaling;
    }, 'qwen3-v5-config');
    const [a, b] = [await CrossEncoder.load(model, { backend: 'native' }), await CrossEncoder.load(v5, { backend: 'native' })];
    const [x, y] = [await a.scorePairs(pairs), await b.scorePairs(pairs)];
    await a.dispose();
    await b.dispose();
    expect(Array.from(y)).toEqual(Array.from(x));
    // Without the theta the default (10000) applies, and the scores change: the field is read.
    const bare = await withConfig((c) => delete c.rope_theta, 'qwen3-no-theta');
    const c = await CrossEncoder.load(bare, { backend: 'native' });
    const z = await c.scorePairs(pairs);
    await c.dispose();
    expect(Math.max(...Array.from(z, (v, i) => Math.abs(v - x[i])))).toBeGreaterThan(1e-4);
    const yarn = await withConfig((c) => (c.rope_scaling = { rope_type: 'yarn', factor: 4 }), 'qwen3-yarn');
    await expect(CrossEncoder.load(yarn, { backend: 'native' })).rejects.toMatchObject({ code: 'CROSSRANK_MODEL_LOAD' });
  });

  it('sliding-window layers, another activation or attention biases are refused; a window that no layer uses or that covers every position is not', async () => {
    const { CrossEncoder } = await import('../../src/cross-encoder.js');
    const variant = (name: string, edit: Record<string, unknown>) => {
      const copy = join(dir.path, name);
      cpSync(model, copy, { recursive: true });
      const config = JSON.parse(readFileSync(join(copy, 'config.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(copy, 'config.json'), JSON.stringify({ ...config, ...edit }));
      return copy;
    };
    const windowed = variant('qwen3-windowed', { use_sliding_window: true, sliding_window: 64, max_window_layers: 1 });
    await expect(CrossEncoder.load(windowed, { backend: 'native' })).rejects.toThrow(/sliding-window attention \(sliding_window 64\) is not supported by the native engine.*backend 'onnx'/);
    const typed = variant('qwen3-layer-types', { layer_types: ['full_attention', 'sliding_attention'], sliding_window: 64 });
    await expect(CrossEncoder.load(typed, { backend: 'native' })).rejects.toMatchObject({ code: 'CROSSRANK_MODEL_LOAD' });
    await expect(CrossEncoder.load(variant('qwen3-gelu', { hidden_act: 'gelu' }), { backend: 'native' })).rejects.toThrow(/hidden_act "gelu" is not supported/);
    await expect(CrossEncoder.load(variant('qwen3-biased', { attention_bias: true }), { backend: 'native' })).rejects.toThrow(/attention_bias/);
    for (const [name, edit] of [
      ['qwen3-window-unused', { use_sliding_window: true, sliding_window: 64, max_window_layers: 2 }],
      ['qwen3-window-off', { use_sliding_window: false, sliding_window: 64, max_window_layers: 0 }],
      ['qwen3-window-wide', { layer_types: ['sliding_attention', 'sliding_attention'], sliding_window: 1e6 }],
    ] as const) {
      const encoder = await CrossEncoder.load(variant(name, edit), { backend: 'native' });
      await encoder.dispose();
    }
  });
});

describe.skipIf(!hasTorch)('the native decoder reference (C++) on the same model', () => {
  it('equals PyTorch within 1e-4, and the prefix-shared path equals the unshared one within 1e-4', async () => {
    const t = Qwen3PromptTokenizer.fromFile(join(qwenTokenizer, 'tokenizer.json'));
    const dl = loadTrecDl();
    const [qid, docids] = [...dl.bm25][2];
    const docs = docids.slice(0, 6).map((id) => dl.passages.get(id)!).filter(Boolean);
    const p = await t.encode(dl.queries.get(qid)!, docs, { maxLength: 200 });
    const continuations = p.documents.map((d) => [...d, ...p.suffix]);
    const tool = join(repoRoot, 'build', 'crossrank_native_tests');
    const run = spawnSync(tool, ['--qwen3', model], {
      input: JSON.stringify({ prefix: Array.from(p.prefix), continuations, token_ids: answer }),
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    const { full, shared } = JSON.parse(run.stdout) as { full: number[][]; shared: number[][] };
    const { logits } = reference(continuations.map((c) => [...p.prefix, ...c]));
    let vsTorch = 0;
    let vsShared = 0;
    full.forEach((row, i) => row.forEach((v, j) => {
      vsTorch = Math.max(vsTorch, Math.abs(v - logits[i][j]));
      vsShared = Math.max(vsShared, Math.abs(v - shared[i][j]));
    }));
    expect(vsTorch).toBeLessThan(1e-4);
    expect(vsShared).toBeLessThan(1e-4);
  });
});

describe.skipIf(!hasTorch)('CrossEncoder on a Qwen3 reranker (no extra options)', () => {
  it('recognises it from config.json and scores P(yes) as the PyTorch reference does', async () => {
    const { CrossEncoder } = await import('../../src/cross-encoder.js');
    const encoder = await CrossEncoder.load(model, { maxLength: 160 });
    try {
      expect(encoder.info).toMatchObject({ tokenizer: 'qwen3-prompt', maxLength: 160, head: { activation: 'softmax', positiveIndex: 0 } });
      const pairs = bm25Pairs(loadTrecDl(), 31, 12);
      const scores = await encoder.scorePairs(pairs);
      const { logits } = reference(sequences);
      logits.forEach(([yes, no], i) => expect(scores[i]).toBeCloseTo(1 / (1 + Math.exp(no - yes)), 5));
      const raw = await encoder.scoreDetailed(pairs[0][0], [pairs[0][1]], { raw: true });
      expect(raw.scores[0]).toBeCloseTo(logits[0][0], 3); // the raw "yes" logit
      expect(raw.truncated[0]).toBe(sequences[0].length === 160 ? 1 : 0);
    } finally {
      await encoder.dispose();
    }
  });

  it('reads a full-vocabulary export (logits over 151,936 tokens) the same way', async () => {
    const full = join(dir.path, 'qwen3-tiny-full');
    makeQwen3Model({ preset: 'qwen3-tiny', seed: 7, out: full, tokenizer: qwenTokenizer, onnxOutput: 'vocabulary' });
    const { CrossEncoder } = await import('../../src/cross-encoder.js');
    const trimmed = await CrossEncoder.load(model, { maxLength: 160 });
    const wide = await CrossEncoder.load(full, { maxLength: 160 });
    try {
      const pairs = bm25Pairs(loadTrecDl(), 31, 3);
      const [a, b] = [await trimmed.scorePairs(pairs), await wide.scorePairs(pairs)];
      a.forEach((x, i) => expect(b[i]).toBeCloseTo(x, 5));
    } finally {
      await trimmed.dispose();
      await wide.dispose();
    }
  });

  it('the native engine (model.safetensors, shared prompt prefixes) scores as ONNX Runtime does', async () => {
    const { CrossEncoder } = await import('../../src/cross-encoder.js');
    const onnx = await CrossEncoder.load(model, { maxLength: 160 });
    const nat = await CrossEncoder.load(model, { maxLength: 160, backend: 'native' });
    try {
      expect(nat.info.backend).toBe('native');
      const dl = loadTrecDl();
      const pairs = bm25Pairs(dl, 31, 12); // several documents per query: prefixes are shared
      const [a, b] = [await onnx.scorePairs(pairs), await nat.scorePairs(pairs)];
      let maxDiff = 0;
      a.forEach((x, i) => (maxDiff = Math.max(maxDiff, Math.abs(x - b[i]))));
      expect(maxDiff).toBeLessThan(1e-4);
      // Without prefix sharing (each prompt whole): the same scores.
      const whole = await CrossEncoder.load(model, { maxLength: 160, backend: 'native', sharePrefix: false });
      const c = await whole.scorePairs(pairs.slice(0, 24));
      await whole.dispose();
      c.forEach((x, i) => expect(Math.abs(x - b[i])).toBeLessThan(1e-4));
      const { native } = await import('../../src/native/load.js');
      if (!(await native().cudaInfo()).available) {
        await expect(CrossEncoder.load(model, { backend: 'native', device: 'cuda' })).rejects.toMatchObject({ code: 'CROSSRANK_BACKEND_UNAVAILABLE' });
      }
    } finally {
      await onnx.dispose();
      await nat.dispose();
    }
  });

  it('precision (the CUDA engine\'s 16-bit type) is validated, and refused where it means nothing', async () => {
    const { CrossEncoder } = await import('../../src/cross-encoder.js');
    const invalid = { code: 'CROSSRANK_INVALID_ARGUMENT' };
    // Off the native CUDA engine (the CPU reference and ONNX Runtime compute in fp32).
    await expect(CrossEncoder.load(model, { backend: 'native', precision: 'fp16' })).rejects.toMatchObject(invalid);
    await expect(CrossEncoder.load(model, { precision: 'bf16' })).rejects.toMatchObject(invalid);
    await expect(CrossEncoder.load(model, { backend: 'native', device: 'cuda', precision: 'fp32' as 'bf16' })).rejects.toThrow(
      /precision must be 'bf16' or 'fp16', got "fp32"/,
    );
    const input = join(dir.path, 'one-doc.txt');
    writeFileSync(input, 'a document\n');
    const r = runCli(['rerank', '--model', model, '--query', 'q', '--input', input, '--backend', 'native', '--precision', 'fp16']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/precision applies to the native CUDA engine only/);
  });

  it('crossrank rerank runs on it, with either backend', async () => {
    const input = join(dir.path, 'docs.txt');
    writeFileSync(input, 'the cat sat on the mat\nquantum chromodynamics\ncats purr\n');
    const r = runCli(['rerank', '--model', model, '--query', 'why do cats purr', '--input', input, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { index: number; score: number }[];
    expect(out.map((x) => x.index).sort()).toEqual([0, 1, 2]);
    for (const x of out) expect(x.score).toBeGreaterThan(0), expect(x.score).toBeLessThan(1);
    const native = runCli(['rerank', '--model', model, '--query', 'why do cats purr', '--input', input, '--json', '--backend', 'native']);
    expect(native.status, native.stderr).toBe(0);
    const nativeOut = JSON.parse(native.stdout) as { index: number; score: number }[];
    expect(nativeOut.map((x) => x.index)).toEqual(out.map((x) => x.index));
    const whole = runCli(['rerank', '--model', model, '--query', 'why do cats purr', '--input', input, '--json', '--backend', 'native', '--no-share-prefix']);
    expect(whole.status, whole.stderr).toBe(0);
    const wholeOut = JSON.parse(whole.stdout) as { index: number; score: number }[];
    wholeOut.forEach((x, i) => expect(Math.abs(x.score - nativeOut[i].score)).toBeLessThan(1e-4));
    // Another instruction changes the prompt, hence the scores.
    const other = runCli(['rerank', '--model', model, '--query', 'why do cats purr', '--input', input, '--json', '--instruction', 'Find passages about physics']);
    expect(other.status, other.stderr).toBe(0);
    const otherOut = JSON.parse(other.stdout) as { index: number; score: number }[];
    const score = (o: { index: number; score: number }[], i: number) => o.find((x) => x.index === i)!.score;
    expect(Math.max(...[0, 1, 2].map((i) => Math.abs(score(otherOut, i) - score(out, i))))).toBeGreaterThan(1e-4);
  });
});

describe.skipIf(!hasTorch)('synthetic Qwen3 reranker: ONNX graph vs PyTorch', () => {
  it('yes/no logits at the last position agree within 1e-4, right- and left-padded', async () => {
    const run = spawnSync(PYTHON, [join(repoRoot, 'scripts', 'reference', 'qwen3_logits.py'), model], {
      input: JSON.stringify({ sequences, token_ids: answer }),
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    expect(run.status, run.stderr).toBe(0);
    const { logits: reference, onnx_check } = JSON.parse(run.stdout) as { logits: number[][]; onnx_check: string };
    expect(onnx_check).toBe('ok');
    for (const left of [false, true]) {
      const ours = await onnxLastLogits(left);
      let maxDiff = 0;
      ours.forEach((row, i) => row.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - reference[i][j])))));
      expect(maxDiff, `left padding: ${left}`).toBeLessThan(1e-4);
    }
    // Not a degenerate model: the yes-no margins differ between documents.
    const margins = reference.map(([y, n]) => y - n);
    expect(Math.max(...margins) - Math.min(...margins)).toBeGreaterThan(0.1);
  });
});

describe.skipIf(!hasTorch)("the reference's bf16 estimate (qwen3_logits.py --bf16: the format's own error)", () => {
  it('rounds as bf16 does: off the float64 logits by more than fp32 rounding and by less than 0.25', () => {
    const exact = reference(sequences).logits;
    const bf16 = reference(sequences, ['--bf16']).logits;
    let maxDiff = 0;
    bf16.forEach((row, i) => row.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - exact[i][j])))));
    // bf16 keeps 8 bits of mantissa: logits of size ~1-4 move by ~1e-3-1e-1 over two layers.
    expect(maxDiff).toBeGreaterThan(1e-3);
    expect(maxDiff).toBeLessThan(0.25);
  });
});
