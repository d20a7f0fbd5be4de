/**
 * Model download and the Hugging Face cache, against a hub mock on loopback (real HTTP):
 * cache layout, redirects, 404, 401 and HF_TOKEN, truncated and interrupted transfers
 * (resumed with Range), checksum mismatches, offline mode and the unreachable-hub fallback;
 * and the files a downloaded file names: a sharded checkpoint's shards, an ONNX graph's
 * external weights.
 */
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { CrossEncoder } from '../../src/cross-encoder.js';
import { ModelLoadError } from '../../src/errors.js';
import { resolveModel } from '../../src/hub/resolve.js';
import { makeModel } from '../../src/model/make-model.js';
import { makeQwen3Model } from '../../src/model/qwen3.js';
import { HubMock, repoFromDirectory } from '../hub-mock.js';
import { bertTokenizerDir, cliPath, repoRoot, sharedDir, tempDir } from '../helpers.js';

const COMMIT = 'a'.repeat(40);
const REPO = 'crossrank-test/tiny-reranker';
const dir = tempDir();
const hub = new HubMock();
const modelDir = join(dir.path, 'model');
const shardedDir = join(dir.path, 'sharded');
const externalDir = join(dir.path, 'external');
let cacheCount = 0;
let cache: string;

beforeAll(async () => {
  makeModel({ preset: 'tiny', seed: 4, out: modelDir, tokenizer: bertTokenizerDir });
  hub.repos.set(REPO, repoFromDirectory(modelDir, COMMIT));
  hub.repos.set('crossrank-test/private', { ...repoFromDirectory(modelDir, COMMIT), private: true });
  makeModel({ preset: 'tiny', seed: 4, out: shardedDir, tokenizer: bertTokenizerDir, maxShardBytes: 200_000 });
  hub.repos.set('crossrank-test/sharded', repoFromDirectory(shardedDir, COMMIT));
  // An LLM reranker whose ONNX graph keeps its weights in onnx/model.onnx_data (as exports past 2 GB do).
  makeQwen3Model({ preset: 'qwen3-tiny', seed: 4, out: externalDir, tokenizer: join(sharedDir, 'tokenizers', 'qwen3'), onnxExternalData: true });
  hub.repos.set('crossrank-test/external', repoFromDirectory(externalDir, COMMIT));
  await hub.start();
});
afterAll(async () => {
  await hub.stop();
  dir.cleanup();
});
beforeEach(() => {
  cache = join(dir.path, `cache-${cacheCount++}`);
  hub.faults = {};
  hub.log.length = 0;
});

/** The CLI, run asynchronously: the hub mock lives in this process and must keep serving. */
function runCliAsync(args: string[], env: Record<string, string>): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { cwd: repoRoot, env: { ...process.env, ...env } }, (error, stdout, stderr) =>
      resolve({ status: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const opts = () => ({ endpoint: hub.endpoint, cacheDir: cache, offline: false, onDownloadProgress: () => {} });
const repoFolder = () => join(cache, `models--${REPO.replace('/', '--')}`);

describe('hub download', () => {
  it('downloads into the Hugging Face cache layout and scores like the local directory', async () => {
    const resolved = await resolveModel(REPO, opts());
    expect(resolved.dir).toBe(join(repoFolder(), 'snapshots', COMMIT));
    expect(readFileSync(join(repoFolder(), 'refs', 'main'), 'utf8')).toBe(COMMIT);
    for (const file of ['config.json', 'onnx/model.onnx', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt']) {
      const path = join(resolved.dir, file);
      expect(lstatSync(path).isSymbolicLink()).toBe(true);
      expect(readlinkSync(path)).toMatch(/^(\.\.\/)+blobs\/[0-9a-f]{40,64}$/);
      expect(readFileSync(path).equals(readFileSync(join(modelDir, file))), file).toBe(true);
    }
    expect(readdirSync(join(repoFolder(), 'blobs')).some((f) => f.endsWith('.incomplete'))).toBe(false);
    // model.onnx came through the LFS redirect.
    expect(hub.log.some((r) => r.url.startsWith('/cdn/'))).toBe(true);
    expect(existsSync(join(resolved.dir, 'model.safetensors'))).toBe(false); // the ONNX backend does not need it

    const fromHub = await CrossEncoder.load(REPO, opts());
    const local = await CrossEncoder.load(modelDir);
    expect(await fromHub.score('q', ['a', 'b'])).toEqual(await local.score('q', ['a', 'b']));
    await Promise.all([fromHub.dispose(), local.dispose()]);
  });

  it('reuses the cache offline without any request, and says what is missing otherwise', async () => {
    await resolveModel(REPO, opts());
    hub.log.length = 0;
    const resolved = await resolveModel(REPO, { ...opts(), offline: true });
    expect(resolved.dir).toBe(join(repoFolder(), 'snapshots', COMMIT));
    expect(hub.log).toEqual([]);
    await expect(resolveModel('crossrank-test/never-downloaded', { ...opts(), offline: true })).rejects.toThrow(
      /not in the hub cache.*HF_HUB_OFFLINE/,
    );
  });

  it('honours HF_HUB_OFFLINE, HF_HUB_CACHE and HF_ENDPOINT through the CLI', async () => {
    await resolveModel(REPO, opts());
    const docs = join(dir.path, 'docs.txt');
    writeFileSync(docs, 'first\nsecond\n');
    const offline = await runCliAsync(['rerank', '--model', REPO, '--query', 'q', '--input', docs, '--json'], {
      HF_HUB_CACHE: cache,
      HF_HUB_OFFLINE: '1',
      HF_ENDPOINT: 'http://127.0.0.1:9', // nothing listens there: offline must not try
    });
    expect(offline.status, offline.stderr).toBe(0);
    expect(JSON.parse(offline.stdout)).toHaveLength(2);
    const fresh = join(dir.path, 'cli-cache');
    const online = await runCliAsync(['rerank', '--model', REPO, '--query', 'q', '--input', docs, '--json'], {
      HF_HUB_CACHE: fresh,
      HF_HUB_OFFLINE: '0',
      HF_ENDPOINT: hub.endpoint,
    });
    expect(online.status, online.stderr).toBe(0);
    expect(existsSync(join(fresh, `models--${REPO.replace('/', '--')}`, 'refs', 'main'))).toBe(true);
  });

  it('falls back to a complete cached snapshot when the hub cannot be reached', async () => {
    await resolveModel(REPO, opts());
    const resolved = await resolveModel(REPO, { ...opts(), endpoint: 'http://127.0.0.1:9' });
    expect(resolved.dir).toBe(join(repoFolder(), 'snapshots', COMMIT));
  });

  it('reports a missing repository (404) as ModelLoadError', async () => {
    await expect(resolveModel('crossrank-test/missing', opts())).rejects.toThrow(ModelLoadError);
    await expect(resolveModel('crossrank-test/missing', opts())).rejects.toThrow(/none of config.json/);
  });

  it('needs HF_TOKEN for a private repository and sends it', async () => {
    await expect(resolveModel('crossrank-test/private', opts())).rejects.toThrow(/access denied \(401\).*HF_TOKEN/);
    hub.log.length = 0;
    const resolved = await resolveModel('crossrank-test/private', { ...opts(), token: hub.token });
    expect(existsSync(join(resolved.dir, 'config.json'))).toBe(true);
    expect(hub.log.filter((r) => r.url.includes('/resolve/')).every((r) => r.authorization === `Bearer ${hub.token}`)).toBe(true);
  });

  it('resumes an interrupted transfer with a Range request', async () => {
    hub.faults = { cutAfterBytes: 1000, cutTimes: 2 };
    const resolved = await resolveModel(REPO, opts());
    expect(readFileSync(join(resolved.dir, 'onnx', 'model.onnx')).equals(readFileSync(join(modelDir, 'onnx', 'model.onnx')))).toBe(true);
    expect(hub.log.some((r) => r.range === 'bytes=1000-')).toBe(true);
  });

  it('rejects a body that keeps arriving truncated, keeping nothing in the cache', async () => {
    hub.faults = { truncateBy: 10 };
    await expect(resolveModel(REPO, opts())).rejects.toThrow(/interrupted|bytes/);
    const blobs = join(repoFolder(), 'blobs');
    expect(existsSync(blobs) ? readdirSync(blobs).filter((f) => !f.endsWith('.incomplete')) : []).toEqual([]);
    expect(existsSync(join(repoFolder(), 'snapshots', COMMIT, 'config.json'))).toBe(false);
  });

  it('rejects content whose checksum does not match its etag', async () => {
    hub.faults = { corrupt: true };
    await expect(resolveModel(REPO, opts())).rejects.toThrow(/checksum mismatch/);
    const blobs = join(repoFolder(), 'blobs');
    expect(existsSync(blobs) ? readdirSync(blobs) : []).toEqual([]);
  });

  it('resolves a pinned commit', async () => {
    const resolved = await resolveModel(REPO, { ...opts(), revision: COMMIT });
    expect(resolved.dir).toBe(join(repoFolder(), 'snapshots', COMMIT));
    await expect(resolveModel(REPO, { ...opts(), revision: 'b'.repeat(40) })).rejects.toThrow(ModelLoadError);
  });
});

describe('hub download: files that a file names', () => {
  const shardNames = () => readdirSync(shardedDir).filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));

  it("fetches every shard a sharded checkpoint's index names, and the native engine scores it like the local model", async () => {
    const repo = 'crossrank-test/sharded';
    const resolved = await resolveModel(repo, { ...opts(), files: 'safetensors' });
    expect(shardNames().length).toBeGreaterThan(1);
    for (const file of ['model.safetensors.index.json', ...shardNames()]) {
      expect(readFileSync(join(resolved.dir, file)).equals(readFileSync(join(shardedDir, file))), file).toBe(true);
    }
    const fromHub = await CrossEncoder.load(repo, { ...opts(), backend: 'native' });
    const local = await CrossEncoder.load(modelDir, { backend: 'native' });
    expect(Array.from(await fromHub.score('q', ['a', 'b']))).toEqual(Array.from(await local.score('q', ['a', 'b'])));
    await Promise.all([fromHub.dispose(), local.dispose()]);
    // Complete in the cache: offline works; a shard gone from the snapshot is a cache miss, not a late load error.
    hub.log.length = 0;
    await resolveModel(repo, { ...opts(), files: 'safetensors', offline: true });
    expect(hub.log).toEqual([]);
    rmSync(join(resolved.dir, shardNames()[1]));
    await expect(resolveModel(repo, { ...opts(), files: 'safetensors', offline: true })).rejects.toThrow(/not in the hub cache/);
  });

  it('with no backend named, a repository without an ONNX export is fetched as safetensors and runs on the native engine', async () => {
    const repo = repoFromDirectory(shardedDir, COMMIT);
    repo.files.delete('onnx/model.onnx');
    hub.repos.set('crossrank-test/no-onnx', repo);
    const model = await CrossEncoder.load('crossrank-test/no-onnx', opts());
    expect(model.info.backend).toBe('native');
    const local = await CrossEncoder.load(modelDir, { backend: 'native' });
    expect(Array.from(await model.score('q', ['a', 'b']))).toEqual(Array.from(await local.score('q', ['a', 'b'])));
    await Promise.all([model.dispose(), local.dispose()]);
    // Where the export exists, only it is fetched (the first test: no model.safetensors).
    expect(existsSync(join(model.info.dir, 'onnx'))).toBe(false);
  });

  it('crossrank export-onnx <hub id> fetches the safetensors and writes the graph into the snapshot; loads then use ONNX Runtime', async () => {
    const qwen = join(dir.path, 'qwen3-no-onnx');
    makeQwen3Model({ preset: 'qwen3-tiny', seed: 5, out: qwen, tokenizer: join(sharedDir, 'tokenizers', 'qwen3') });
    const repo = repoFromDirectory(qwen, COMMIT);
    repo.files.delete('onnx/model.onnx');
    hub.repos.set('crossrank-test/qwen3-no-onnx', repo);
    const run = await runCliAsync(['export-onnx', 'crossrank-test/qwen3-no-onnx', '--json'], { HF_HUB_CACHE: cache, HF_ENDPOINT: hub.endpoint, HF_HUB_OFFLINE: '0' });
    expect(run.status, run.stderr).toBe(0);
    const snapshot = join(cache, 'models--crossrank-test--qwen3-no-onnx', 'snapshots', COMMIT);
    expect(JSON.parse(run.stdout).dir).toBe(snapshot);
    // The graph written from the downloaded weights is the one make-model wrote beside them.
    expect(readFileSync(join(snapshot, 'onnx', 'model.onnx')).equals(readFileSync(join(qwen, 'onnx', 'model.onnx')))).toBe(true);
    const model = await CrossEncoder.load('crossrank-test/qwen3-no-onnx', opts());
    expect(model.info.backend).toBe('onnx');
    const local = await CrossEncoder.load(qwen);
    expect(Array.from(await model.score('q', ['a', 'b']))).toEqual(Array.from(await local.score('q', ['a', 'b'])));
    await Promise.all([model.dispose(), local.dispose()]);
  });

  it('a repository with PyTorch pickles only says so for the native engine', async () => {
    const repo = repoFromDirectory(modelDir, COMMIT);
    repo.files.set('pytorch_model.bin', repo.files.get('model.safetensors')!);
    repo.files.delete('model.safetensors');
    hub.repos.set('crossrank-test/pickle-only', repo);
    await expect(resolveModel('crossrank-test/pickle-only', { ...opts(), files: 'safetensors' })).rejects.toThrow(
      /has none of model.safetensors, model.safetensors.index.json on the hub \(it has pytorch_model.bin, a PyTorch pickle/,
    );
    // The ONNX backend does not need the weights file at all.
    await expect(resolveModel('crossrank-test/pickle-only', opts())).resolves.toBeDefined();
  });

  it('a repository with graph variants but no onnx/model.onnx names them; onnxFile fetches the one chosen', async () => {
    const repo = repoFromDirectory(modelDir, COMMIT);
    repo.files.set('onnx/model_quantized.onnx', repo.files.get('onnx/model.onnx')!);
    repo.files.set('onnx/model_q4.onnx', repo.files.get('onnx/model.onnx')!);
    repo.files.delete('onnx/model.onnx');
    hub.repos.set('crossrank-test/variants', repo);
    await expect(resolveModel('crossrank-test/variants', opts())).rejects.toThrow(
      /has none of onnx\/model.onnx, model.onnx on the hub \(it has onnx\/model_quantized.onnx, onnx\/model_q4.onnx: choose one with onnxFile/,
    );
    const fromHub = await CrossEncoder.load('crossrank-test/variants', { ...opts(), onnxFile: 'onnx/model_q4.onnx' });
    expect(existsSync(join(fromHub.info.dir, 'onnx', 'model_q4.onnx'))).toBe(true);
    expect(existsSync(join(fromHub.info.dir, 'onnx', 'model_quantized.onnx'))).toBe(false);
    const local = await CrossEncoder.load(modelDir);
    expect(Array.from(await fromHub.score('q', ['a', 'b']))).toEqual(Array.from(await local.score('q', ['a', 'b'])));
    await Promise.all([fromHub.dispose(), local.dispose()]);
  });

  it('a shard the index names but the hub lacks is a ModelLoadError naming it', async () => {
    const repo = repoFromDirectory(shardedDir, COMMIT);
    const missing = shardNames()[0];
    repo.files.delete(missing);
    hub.repos.set('crossrank-test/sharded-incomplete', repo);
    await expect(resolveModel('crossrank-test/sharded-incomplete', { ...opts(), files: 'safetensors' })).rejects.toThrow(
      new RegExp(`model.safetensors.index.json names ${missing}, which is not on the hub`),
    );
  });

  it('an index pointing outside the repository is refused before any request for it', async () => {
    const repo = repoFromDirectory(shardedDir, COMMIT);
    repo.files.set('model.safetensors.index.json', Buffer.from(JSON.stringify({ weight_map: { a: '../../etc/x.safetensors' } })));
    hub.repos.set('crossrank-test/sharded-hostile', repo);
    await expect(resolveModel('crossrank-test/sharded-hostile', { ...opts(), files: 'safetensors' })).rejects.toThrow(/not a .safetensors file beside the index/);
    expect(hub.log.some((r) => r.url.includes('etc'))).toBe(false);
  });

  it("fetches an ONNX graph's external weights, and ONNX Runtime scores it like the local model", async () => {
    const resolved = await resolveModel('crossrank-test/external', opts());
    expect(readFileSync(join(resolved.dir, 'onnx', 'model.onnx_data')).equals(readFileSync(join(externalDir, 'onnx', 'model.onnx_data')))).toBe(true);
    const fromHub = await CrossEncoder.load('crossrank-test/external', opts());
    const local = await CrossEncoder.load(externalDir);
    expect(Array.from(await fromHub.score('q', ['a', 'b']))).toEqual(Array.from(await local.score('q', ['a', 'b'])));
    await Promise.all([fromHub.dispose(), local.dispose()]);

    const repo = repoFromDirectory(externalDir, COMMIT);
    repo.files.delete('onnx/model.onnx_data');
    hub.repos.set('crossrank-test/external-incomplete', repo);
    await expect(resolveModel('crossrank-test/external-incomplete', opts())).rejects.toThrow(/onnx\/model.onnx names onnx\/model.onnx_data, which is not on the hub/);
  });
});
