/**
 * Qwen3 graphs with a key/value cache (`past_key_values.*` in, `present.*` out: the layout of
 * the public exports made for generation, and make-model's / export-onnx's default): the
 * graph continues a cached prefix exactly as it computes the whole prompt; transformers.js,
 * which consumes such exports, runs it; and ONNX Runtime shares each query's prompt prefix
 * through it, scoring as without sharing and as the native engine.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder } from '../../src/cross-encoder.js';
import { Qwen3PromptTokenizer } from '../../src/llm/qwen3-reranker-prompt.js';
import { makeQwen3Model, qwen3Presets } from '../../src/model/qwen3.js';
import { AttributeType, DataType, ModelProto } from '../../src/onnx/schema.js';
import { bm25Pairs, loadTrecDl } from '../fixtures/trec-dl.js';
import { compareTopK, sharedDir, tempDir } from '../helpers.js';

const qwenTokenizer = join(sharedDir, 'tokenizers', 'qwen3');
const dims = qwen3Presets['qwen3-tiny'];
const dir = tempDir();
const cached = join(dir.path, 'cached');
const whole = join(dir.path, 'whole');
const vocabulary = join(dir.path, 'models', 'vocabulary');
let prompt: number[];
let prefixLength: number;

beforeAll(async () => {
  makeQwen3Model({ preset: 'qwen3-tiny', seed: 5, out: cached, tokenizer: qwenTokenizer });
  makeQwen3Model({ preset: 'qwen3-tiny', seed: 5, out: whole, tokenizer: qwenTokenizer, onnxKvCache: false });
  makeQwen3Model({ preset: 'qwen3-tiny', seed: 5, out: vocabulary, tokenizer: qwenTokenizer, onnxOutput: 'vocabulary' });
  const t = Qwen3PromptTokenizer.fromFile(join(qwenTokenizer, 'tokenizer.json'));
  const [query, doc] = bm25Pairs(loadTrecDl(), 3, 1)[0];
  const p = await t.encode(query, [doc], { maxLength: 200 });
  prompt = [...p.prefix, ...p.documents[0], ...p.suffix];
  prefixLength = p.prefix.length;
}, 120_000);
afterAll(() => dir.cleanup());

const int64 = (values: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims);
const emptyPast = (rows: number) => new ort.Tensor('float32', new Float32Array(0), [rows, dims.numKvHeads, 0, dims.headDim]);

/** One run of `ids` (rows of equal length) after `past` (or none); the session's outputs. */
async function run(session: ort.InferenceSession, ids: number[][], past?: Record<string, ort.Tensor>, pastLength = 0) {
  const rows = ids.length;
  const n = ids[0].length;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: int64(ids.flat(), [rows, n]),
    attention_mask: int64(Array(rows * (pastLength + n)).fill(1), [rows, pastLength + n]),
    position_ids: int64(ids.flatMap(() => Array.from({ length: n }, (_, t) => pastLength + t)), [rows, n]),
  };
  for (let l = 0; l < dims.numLayers; l++) {
    for (const kind of ['key', 'value']) feeds[`past_key_values.${l}.${kind}`] = past?.[`present.${l}.${kind}`] ?? emptyPast(rows);
  }
  return session.run(feeds);
}

describe('a Qwen3 graph with a key/value cache', () => {
  it('declares the public layout: past_key_values.N.key|value in, present.N.key|value out, [batch, kv heads, length, head dim]', async () => {
    const session = await ort.InferenceSession.create(join(cached, 'onnx', 'model.onnx'));
    try {
      const layers = Array.from({ length: dims.numLayers }, (_, l) => l);
      expect(session.inputNames).toEqual(['input_ids', 'attention_mask', 'position_ids', ...layers.flatMap((l) => [`past_key_values.${l}.key`, `past_key_values.${l}.value`])]);
      expect(session.outputNames).toEqual(['yes_no_logits', ...layers.flatMap((l) => [`present.${l}.key`, `present.${l}.value`])]);
      const meta = session.inputMetadata.find((m) => m.name === 'past_key_values.0.key');
      expect(meta).toMatchObject({ isTensor: true, type: 'float32', shape: ['batch_size', dims.numKvHeads, 'past_sequence_length', dims.headDim] });
    } finally {
      await session.release();
    }
  });

  it('continues a cached prefix as it computes the whole prompt (one row, and the prefix repeated for two)', async () => {
    const session = await ort.InferenceSession.create(join(cached, 'onnx', 'model.onnx'));
    try {
      const full = (await run(session, [prompt])).yes_no_logits.data as Float32Array;
      const last = full.slice((prompt.length - 1) * 2, prompt.length * 2);
      const prefix = await run(session, [prompt.slice(0, prefixLength)]);
      expect(prefix['present.0.key'].dims).toEqual([1, dims.numKvHeads, prefixLength, dims.headDim]);
      const rest = prompt.slice(prefixLength);
      const continued = await run(session, [rest], prefix, prefixLength);
      expect(continued['present.1.value'].dims).toEqual([1, dims.numKvHeads, prompt.length, dims.headDim]);
      const cont = continued.yes_no_logits.data as Float32Array;
      const at = (rest.length - 1) * 2;
      expect(Math.abs(cont[at] - last[0])).toBeLessThan(1e-4);
      expect(Math.abs(cont[at + 1] - last[1])).toBeLessThan(1e-4);
      // Two rows continuing the same prefix: the past is batched like the tokens.
      const repeated: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(prefix)) {
        if (!name.startsWith('present.')) continue;
        const data = t.data as Float32Array;
        const both = new Float32Array(data.length * 2);
        both.set(data);
        both.set(data, data.length);
        repeated[name] = new ort.Tensor('float32', both, [2, ...t.dims.slice(1)]);
      }
      const two = (await run(session, [rest, rest], repeated, prefixLength)).yes_no_logits.data as Float32Array;
      const half = rest.length * 2;
      expect(Array.from(two.slice(half + at, half + at + 2), (v, i) => Math.abs(v - last[i]))).toSatisfy((d: number[]) => d.every((x) => x < 1e-4));
    } finally {
      await session.release();
    }
  });

  it('transformers.js (which runs the public exports) generates through the cache what whole prompts predict', async () => {
    const { AutoModelForCausalLM, env, Tensor } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = `${join(dir.path, 'models')}/`;
    const model = await AutoModelForCausalLM.from_pretrained('vocabulary', { dtype: 'fp32', device: 'cpu' });
    try {
      const ids = prompt.slice(0, 24);
      const tensor = (values: number[]) => new Tensor('int64', BigInt64Array.from(values, BigInt), [1, values.length]);
      // Greedy steps after the first read the cache the graph returned (present -> past).
      const generated = (await model.generate({ inputs: tensor(ids), attention_mask: tensor(ids.map(() => 1)), max_new_tokens: 4, do_sample: false })) as { tolist(): bigint[][] };
      const tokens = generated.tolist()[0].map(Number);
      expect(tokens.slice(0, ids.length)).toEqual(ids);
      // The same tokens by arg-max over whole prompts, no cache between steps.
      const session = await ort.InferenceSession.create(join(vocabulary, 'onnx', 'model.onnx'));
      try {
        for (let step = ids.length; step < tokens.length; step++) {
          const logits = (await run(session, [tokens.slice(0, step)])).logits;
          const width = logits.dims[2];
          const row = (logits.data as Float32Array).subarray((step - 1) * width, step * width);
          let best = 0;
          for (let v = 1; v < width; v++) if (row[v] > row[best]) best = v;
          expect(tokens[step], `token ${step}`).toBe(best);
        }
      } finally {
        await session.release();
      }
    } finally {
      await model.dispose();
    }
  }, 120_000);
});

/** ONNX's TensorProto.FLOAT16. */
const FLOAT16 = 10;

interface GraphValue {
  name: string;
  type: { tensorType: { elemType: number } };
}
interface GraphNode {
  input: string[];
  output: string[];
}

/**
 * `cached` as some public exports for generation are (fp16 ones, and transformers.js's):
 * a float16 cache in and out, float16 logits, and `num_logits_to_keep` (honoured: the logits
 * of the last k positions, all for 0) / `use_cache_branch` inputs. The same computation in
 * fp32, with Cast nodes at the edges.
 */
function float16Export(out: string): void {
  cpSync(cached, out, { recursive: true });
  const path = join(out, 'onnx', 'model.onnx');
  const model = ModelProto.decode(readFileSync(path)) as unknown as { graph: { node: GraphNode[]; input: GraphValue[]; output: GraphValue[]; initializer: object[] } };
  const g = model.graph;
  const cast = (input: string, output: string, to: number) => ({
    input: [input],
    output: [output],
    name: `cast_${output}`,
    opType: 'Cast',
    attribute: [{ name: 'to', type: AttributeType.INT, i: to }],
  });
  const renameUses = (from: string, to: string) => g.node.forEach((n) => (n.input = n.input.map((x) => (x === from ? to : x))));
  const first = [];
  for (const input of g.input.filter((v) => v.name.startsWith('past_key_values.'))) {
    renameUses(input.name, `${input.name}_fp32`);
    first.push(cast(input.name, `${input.name}_fp32`, DataType.FLOAT));
    input.type.tensorType.elemType = FLOAT16;
  }
  const last: object[] = [];
  for (const output of g.output) {
    renameUses(output.name, `${output.name}_fp32`);
    g.node.forEach((n) => (n.output = n.output.map((x) => (x === output.name ? `${output.name}_fp32` : x))));
    last.push(cast(`${output.name}_fp32`, output.name, FLOAT16));
    output.type.tensorType.elemType = FLOAT16;
  }
  // logits[:, start:] with start = -k, or 0 for k = 0.
  const int64 = (name: string, values: bigint[], dims: number[]) => ({ name, dims, dataType: DataType.INT64, rawData: new Uint8Array(BigInt64Array.from(values).buffer) });
  g.initializer.push(int64('keep_zero', [0n], []), int64('keep_end', [2n ** 62n], [1]), int64('keep_axis', [1n], [1]), int64('keep_first', [0n], [1]));
  const node = (opType: string, input: string[], output: string) => ({ input, output: [output], name: `/${output}`, opType });
  const logits = g.output[0].name;
  (last[0] as GraphNode).input = [`${logits}_kept`];
  last.unshift(
    node('Equal', ['num_logits_to_keep', 'keep_zero'], 'keep_all'),
    node('Neg', ['num_logits_to_keep'], 'keep_negative'),
    node('Where', ['keep_all', 'keep_zero', 'keep_negative'], 'keep_start_scalar'),
    node('Unsqueeze', ['keep_start_scalar', 'keep_first'], 'keep_start'),
    node('Slice', [`${logits}_fp32`, 'keep_start', 'keep_end', 'keep_axis'], `${logits}_kept`),
  );
  g.node = [...first, ...g.node, ...last] as GraphNode[];
  g.input.push(
    { name: 'num_logits_to_keep', type: { tensorType: { elemType: DataType.INT64, shape: { dim: [] } } } } as GraphValue,
    { name: 'use_cache_branch', type: { tensorType: { elemType: DataType.BOOL, shape: { dim: [{ dimValue: 1 }] } } } } as GraphValue,
  );
  writeFileSync(path, ModelProto.encode(model as never).finish());
}

describe('ONNX Runtime sharing prompt prefixes through the cache', () => {
  const data = loadTrecDl();
  const queries = [...data.bm25.keys()].slice(0, 3).map((qid) => data.queries.get(qid)!);
  const docs = bm25Pairs(data, 9, 24).map(([, d]) => d);

  it('scores as without sharing and as the native engine, across batches and concurrent queries', async () => {
    // Small batches: a query's documents span several, so its prefix is reused between them.
    const shared = await CrossEncoder.load(cached, { maxLength: 256, batchTokens: 300 });
    const unshared = await CrossEncoder.load(cached, { maxLength: 256, sharePrefix: false });
    const reference = await CrossEncoder.load(cached, { maxLength: 256, backend: 'native' });
    try {
      expect(shared.info).toMatchObject({ backend: 'onnx', sharesPrefixes: true });
      expect(unshared.info.sharesPrefixes).toBe(false);
      const all = (e: CrossEncoder) => Promise.all(queries.map((q) => e.scoreDetailed(q, docs, { raw: true })));
      const [a, b, c] = [await all(shared), await all(unshared), await all(reference)];
      let maxUnshared = 0;
      let maxNative = 0;
      a.forEach((s, q) =>
        s.scores.forEach((v, i) => {
          maxUnshared = Math.max(maxUnshared, Math.abs(v - b[q].scores[i]));
          maxNative = Math.max(maxNative, Math.abs(v - c[q].scores[i]));
        }),
      );
      expect(maxUnshared).toBeLessThan(1e-4);
      expect(maxNative).toBeLessThan(1e-4);
      a.forEach((s, q) => expect(compareTopK(c[q].scores, s.scores, 10, 1e-4).upToTies).toBe(true));
      // Scores vary across documents: a wrong continuation would not pass by accident.
      expect(Math.max(...a[0].scores) - Math.min(...a[0].scores)).toBeGreaterThan(1e-2);
    } finally {
      await Promise.all([shared.dispose(), unshared.dispose(), reference.dispose()]);
    }
  }, 120_000);

  it('reads float16 caches and logits, and feeds num_logits_to_keep and use_cache_branch, as exports for generation have them', async () => {
    const half = join(dir.path, 'float16');
    float16Export(half);
    const shared = await CrossEncoder.load(half, { maxLength: 256 });
    const unshared = await CrossEncoder.load(half, { maxLength: 256, sharePrefix: false });
    const fp32 = await CrossEncoder.load(cached, { maxLength: 256 });
    try {
      expect(shared.info.sharesPrefixes).toBe(true);
      const raw = (e: CrossEncoder) => e.scoreDetailed(queries[1], docs, { raw: true }).then((r) => r.scores);
      const [a, b, c] = [await raw(shared), await raw(unshared), await raw(fp32)];
      // fp16 rounding of the logits (|logit| < 8: steps of 2^-8) and of the shared prefix's keys/values.
      a.forEach((v, i) => {
        expect(Math.abs(v - c[i])).toBeLessThan(2e-2);
        expect(Math.abs(v - b[i])).toBeLessThan(2e-2);
      });
      expect(compareTopK(c, a, 10, 2e-2).upToTies).toBe(true);
      // One document a call: one row a run, so only the last position's logits come back.
      for (const e of [shared, unshared]) {
        const one = await e.scoreDetailed(queries[1], [docs[3]], { raw: true });
        expect(Math.abs(one.scores[0] - c[3])).toBeLessThan(2e-2);
      }
    } finally {
      await Promise.all([shared.dispose(), unshared.dispose(), fp32.dispose()]);
    }
  }, 120_000);

  it("continues one row a run where the graph cannot batch it (ONNX Runtime's fused GroupQueryAttention, as in optimized exports)", async () => {
    const fused = join(dir.path, 'fused');
    makeQwen3Model({ preset: 'qwen3-tiny', seed: 5, out: fused, tokenizer: qwenTokenizer, onnxFusedAttention: true });
    const graph = ModelProto.decode(readFileSync(join(fused, 'onnx', 'model.onnx'))) as unknown as { graph: { node: { opType: string; domain: string }[] } };
    expect(graph.graph.node.filter((n) => n.opType === 'GroupQueryAttention' && n.domain === 'com.microsoft')).toHaveLength(dims.numLayers);
    // Several documents a batch: ONNX Runtime refuses to continue them together.
    const shared = await CrossEncoder.load(fused, { maxLength: 256 });
    const unshared = await CrossEncoder.load(fused, { maxLength: 256, sharePrefix: false });
    const reference = await CrossEncoder.load(cached, { maxLength: 256, backend: 'native' });
    try {
      expect(shared.info.sharesPrefixes).toBe(true);
      for (const query of queries.slice(0, 2)) {
        const raw = (e: CrossEncoder) => e.scoreDetailed(query, docs, { raw: true }).then((r) => r.scores);
        const [a, b, c] = [await raw(shared), await raw(unshared), await raw(reference)];
        a.forEach((v, i) => {
          expect(Math.abs(v - c[i])).toBeLessThan(1e-4);
          expect(Math.abs(b[i] - c[i])).toBeLessThan(1e-4);
        });
      }
    } finally {
      await Promise.all([shared.dispose(), unshared.dispose(), reference.dispose()]);
    }
  }, 120_000);

  it("on a CPU, a real reranker's width runs one row a run, shared or not: the same scores", async () => {
    // The ONNX path reads the width from config.json only to choose this (the graph is tiny).
    const wide = join(dir.path, 'wide');
    cpSync(cached, wide, { recursive: true });
    const config = JSON.parse(readFileSync(join(wide, 'config.json'), 'utf8'));
    writeFileSync(join(wide, 'config.json'), JSON.stringify({ ...config, hidden_size: 1024 }));
    const encoders = await Promise.all([
      CrossEncoder.load(wide, { maxLength: 256 }),
      CrossEncoder.load(wide, { maxLength: 256, sharePrefix: false }),
      CrossEncoder.load(cached, { maxLength: 256, sharePrefix: false }),
    ]);
    try {
      const [shared, unshared, batched] = await Promise.all(encoders.map((e) => e.scoreDetailed(queries[2], docs, { raw: true })));
      batched.scores.forEach((v, i) => {
        expect(Math.abs(shared.scores[i] - v)).toBeLessThan(1e-4);
        expect(Math.abs(unshared.scores[i] - v)).toBeLessThan(1e-4);
      });
    } finally {
      await Promise.all(encoders.map((e) => e.dispose()));
    }
  }, 120_000);

  it('a graph without a cache runs every prompt whole; asking it to share is refused', async () => {
    const plain = await CrossEncoder.load(whole, { maxLength: 256 });
    const withCache = await CrossEncoder.load(cached, { maxLength: 256 });
    try {
      expect(plain.info.sharesPrefixes).toBe(false);
      const [a, b] = [await plain.score(queries[0], docs), await withCache.score(queries[0], docs)];
      a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThan(1e-5));
    } finally {
      await Promise.all([plain.dispose(), withCache.dispose()]);
    }
    await expect(CrossEncoder.load(whole, { sharePrefix: true })).rejects.toMatchObject({
      code: 'CROSSRANK_INVALID_ARGUMENT',
      message: expect.stringMatching(/has no key\/value cache inputs, so ONNX Runtime cannot share prompt prefixes/),
    });
  }, 120_000);

  it('a cache that does not match config.json is a ModelLoadError naming it', async () => {
    const config = JSON.parse(readFileSync(join(cached, 'config.json'), 'utf8'));
    writeFileSync(join(cached, 'config.json'), JSON.stringify({ ...config, num_key_value_heads: 4 }));
    await expect(CrossEncoder.load(cached, { backend: 'onnx' })).rejects.toMatchObject({
      code: 'CROSSRANK_MODEL_LOAD',
      message: expect.stringMatching(/past_key_values\.0\.key is \[batch_size,2,past_sequence_length,16\]; config\.json implies \[batch, 4, past, 16\]/),
    });
    writeFileSync(join(cached, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: 3 }));
    await expect(CrossEncoder.load(cached, { backend: 'onnx' })).rejects.toThrow(/has a key\/value cache without past_key_values\.2\.key \(config\.json: 3 layers\)/);
    writeFileSync(join(cached, 'config.json'), JSON.stringify({ ...config, num_hidden_layers: 1 }));
    await expect(CrossEncoder.load(cached, { backend: 'onnx' })).rejects.toThrow(/has 2 layers of key\/value cache inputs; config\.json has 1/);
    writeFileSync(join(cached, 'config.json'), JSON.stringify(config));
  });
});
