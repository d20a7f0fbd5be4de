/**
 * The GPU check's scripts, as far as a machine without a GPU can exercise them: they parse,
 * the prompts file for the decoder check holds real Qwen3-Reranker prompts, and the CUDA
 * harness reads its inputs and then says CUDA is missing (a typed exit, not a crash).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from 'tokenizers';
import { afterAll, describe, expect, it } from 'vitest';

import { qwen3RerankerPrompt } from '../../src/llm/qwen3-reranker-prompt.js';
import { native } from '../../src/native/load.js';
import { repoRoot, sharedDir, tempDir } from '../helpers.js';

const dir = tempDir();
afterAll(() => dir.cleanup());
const harness = join(repoRoot, 'build', 'crossrank_cuda_ops');
const library = join(repoRoot, 'build', 'Release', 'libcrossrank_cuda.so');
const cuda = await native().cudaInfo();

describe('device check scripts', () => {
  it('the shell and Python scripts parse', () => {
    for (const script of ['gpu-check.sh', 'pack-for-device.sh']) {
      const r = spawnSync('bash', ['-n', join(repoRoot, 'scripts', 'device', script)], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
    for (const script of ['make_torch_model.py', 'torch_compare.py', 'qwen3_compare.py', 'ranking.py']) {
      const r = spawnSync('python3', ['-m', 'py_compile', join(repoRoot, 'scripts', 'device', script)], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
  });

  it('qwen3-prompts.mjs writes each query prefix + document + closing frame as the whole prompt tokenizes', async () => {
    const out = join(dir.path, 'prompts.json');
    const r = spawnSync('node', [join(repoRoot, 'scripts', 'device', 'qwen3-prompts.mjs'), '--queries', '2', '--docs', '5', '--out', out], {
      encoding: 'utf8',
      cwd: repoRoot,
    });
    expect(r.status, r.stderr).toBe(0);
    const prompts = JSON.parse(readFileSync(out, 'utf8')) as {
      answer_ids: number[];
      queries: { qid: string; docids: string[]; prefix: number[]; docs: number[][] }[];
    };
    expect(prompts.answer_ids).toEqual([9693, 2152]);
    expect(prompts.queries).toHaveLength(2);
    const tokenizer = Tokenizer.fromFile(join(sharedDir, 'tokenizers', 'qwen3', 'tokenizer.json'));
    const trec = join(sharedDir, 'data', 'trec-dl-2019');
    const queries = new Map(readFileSync(join(trec, 'queries.tsv'), 'utf8').trim().split('\n').map((l) => l.split('\t') as [string, string]));
    const passages = new Map<string, string>();
    for (const line of readFileSync(join(trec, 'passages.jsonl'), 'utf8').trim().split('\n')) {
      const p = JSON.parse(line) as { id: string; text: string };
      passages.set(p.id, p.text);
    }
    const q = prompts.queries[0];
    expect(q.docs).toHaveLength(5);
    for (let d = 0; d < 5; d++) {
      const text = qwen3RerankerPrompt(queries.get(q.qid)!, passages.get(q.docids[d])!);
      const whole = (await tokenizer.encode(text, null, { addSpecialTokens: false })).getIds();
      expect([...q.prefix, ...q.docs[d]]).toEqual(whole);
    }
  });

  it.skipIf(!existsSync(harness) || cuda.available)('the CUDA harness reads a Qwen3 model and prompts, then exits 2 without CUDA', () => {
    const r = spawnSync(harness, [library, '--qwen3', join(dir.path, 'missing-model'), '--prompts', join(dir.path, 'prompts.json')], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/cannot read .*config\.json/);
  });
});
