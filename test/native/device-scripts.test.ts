/**
 * The GPU check's scripts, as far as a machine without a GPU can exercise them: they parse,
 * the prompts file for the decoder check holds real Qwen3-Reranker prompts, and the CUDA
 * harness reads its inputs and then says CUDA is missing (a typed exit, not a crash).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
    for (const script of ['make_torch_model.py', 'torch_compare.py', 'qwen3_compare.py', 'ranking.py', 'hf_compat.py']) {
      const r = spawnSync('python3', ['-m', 'py_compile', join(repoRoot, 'scripts', 'device', script)], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
    }
  });

  it('the Python steps pass transformers only arguments its installed version takes (4.4x to 5.x)', () => {
    // transformers 5 rejects save_pretrained(safe_serialization=...) and 4.56 renamed torch_dtype:
    // the scripts go through hf_compat, checked here against stand-ins for each version.
    for (const script of ['make_torch_model.py', 'torch_compare.py', 'qwen3_compare.py']) {
      const source = readFileSync(join(repoRoot, 'scripts', 'device', script), 'utf8');
      expect(source, script).not.toMatch(/torch_dtype\s*=|safe_serialization/);
    }
    const probe = `
import json, os, sys, tempfile
import hf_compat
class Model:
    def __init__(self, file): self.file = file
    def save_pretrained(self, out, **kwargs):
        if kwargs: raise TypeError(f"save_pretrained() got an unexpected keyword argument {next(iter(kwargs))!r}")
        open(os.path.join(out, self.file), "w").close()
ok = tempfile.mkdtemp(); hf_compat.save_safetensors(Model("model.safetensors"), ok)
bad = tempfile.mkdtemp()
try:
    hf_compat.save_safetensors(Model("pytorch_model.bin"), bad); refused = ""
except SystemExit as e:
    refused = str(e)
print(json.dumps({"kwargs": list(hf_compat.dtype_kwargs("fp32")), "refused": refused}))
`;
    for (const [version, keyword] of [['4.44.2', 'torch_dtype'], ['4.56.0', 'dtype'], ['5.2.0', 'dtype'], ['5.0.0rc1', 'dtype']]) {
      const stub = join(dir.path, `transformers-${version}`);
      mkdirSync(join(stub, 'transformers'), { recursive: true });
      writeFileSync(join(stub, 'transformers', '__init__.py'), `__version__ = ${JSON.stringify(version)}\n`);
      const r = spawnSync('python3', ['-c', probe], {
        encoding: 'utf8',
        env: { ...process.env, PYTHONPATH: `${stub}:${join(repoRoot, 'scripts', 'device')}`, PYTHONDONTWRITEBYTECODE: '1' },
      });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.kwargs, version).toEqual([keyword]);
      expect(out.refused).toMatch(new RegExp(`transformers ${version.replace(/\./g, '\\.')} wrote no safetensors .*pytorch_model.bin`));
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
