/**
 * Model resolution: a local directory, or a hub id ("org/name", optional revision) found
 * in or downloaded into the Hugging Face cache. Honours HF_HUB_OFFLINE, HF_TOKEN,
 * HF_ENDPOINT, HF_HUB_CACHE and HF_HOME.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';

import { InvalidArgumentError, ModelLoadError } from '../errors.js';
import { modelFiles, ONNX_VARIANTS, type OnnxChoice, type WeightFiles } from '../model/model-files.js';
import { hubCacheDir, isCommitHash, isRepoId, repoFolder } from './cache-layout.js';
import { companionFiles } from './companion-files.js';
import { downloadFile, FileNotOnHub, headFile, type HubRequestOptions } from './download.js';
import { downloadProgress } from './progress.js';

export interface ResolveOptions {
  /** Branch, tag or commit (default "main"). */
  revision?: string;
  /** Hub cache directory (default: $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** Never use the network (default: HF_HUB_OFFLINE=1). */
  offline?: boolean;
  /** Access token (default: $HF_TOKEN). */
  token?: string;
  /** Hub address (default: $HF_ENDPOINT or https://huggingface.co). */
  endpoint?: string;
  /** Progress of downloads (default: a bar on stderr when it is a terminal). */
  onDownloadProgress?: (file: string, done: number, total: number) => void;
}

export interface ResolvedModel {
  dir: string;
  repoId?: string;
  revision?: string;
}

const truthy = (v: string | undefined) => v !== undefined && ['1', 'true', 'yes', 'on'].includes(v.toLowerCase());

/** The snapshot directory for a revision already in the cache, or undefined. */
function cachedSnapshot(folder: string, revision: string): string | undefined {
  let commit = revision;
  if (!isCommitHash(revision)) {
    const ref = join(folder, 'refs', revision);
    if (!existsSync(ref)) return undefined;
    commit = readFileSync(ref, 'utf8').trim();
  }
  const dir = join(folder, 'snapshots', commit);
  return existsSync(dir) ? dir : undefined;
}

/** A snapshot has one of each required group's files, and the files that one names (shards, external weights). */
function hasFiles(dir: string, kind: WeightFiles, choice: OnnxChoice): boolean {
  return modelFiles(kind, choice).required.every((alternatives) => {
    const file = alternatives.find((f) => existsSync(join(dir, f)));
    try {
      return file !== undefined && companionFiles(file, join(dir, file)).every((c) => existsSync(join(dir, c)));
    } catch {
      return false; // an index or graph that cannot be read: not a usable snapshot
    }
  });
}

export async function resolveModel(
  idOrDir: string,
  options: ResolveOptions & OnnxChoice & { files?: WeightFiles } = {},
): Promise<ResolvedModel> {
  const local = resolvePath(idOrDir);
  if (existsSync(local)) {
    if (!statSync(local).isDirectory()) throw new ModelLoadError(`${local} is a file; pass the model directory`);
    return { dir: local };
  }
  if (!isRepoId(idOrDir) || idOrDir.startsWith('.') || idOrDir.startsWith('/')) {
    throw new ModelLoadError(`${idOrDir} is neither an existing directory nor a hub id like org/name`);
  }
  const revision = options.revision ?? 'main';
  if (typeof revision !== 'string' || revision.length === 0 || revision.includes('..')) {
    throw new InvalidArgumentError(`invalid revision ${JSON.stringify(revision)}`);
  }
  const kind = options.files ?? 'onnx';
  const choice: OnnxChoice = { quantized: options.quantized, onnxFile: options.onnxFile };
  const folder = repoFolder(hubCacheDir(options.cacheDir), idOrDir);
  const cached = cachedSnapshot(folder, revision);
  const offline = options.offline ?? truthy(process.env.HF_HUB_OFFLINE);
  if (offline) {
    if (cached && hasFiles(cached, kind, choice)) return { dir: cached, repoId: idOrDir, revision };
    throw new ModelLoadError(
      `${idOrDir}@${revision} is not in the hub cache (${folder}) with ${kind === 'any' ? 'an ONNX export or safetensors weights' : `the files the ${kind} backend needs`}, and HF_HUB_OFFLINE is set`,
    );
  }

  const progress = options.onDownloadProgress ? { update: options.onDownloadProgress, done() {} } : downloadProgress(idOrDir);
  const request: HubRequestOptions = {
    endpoint: options.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co',
    token: options.token ?? process.env.HF_TOKEN ?? process.env.HUGGING_FACE_HUB_TOKEN,
    onProgress: progress.update,
  };
  const { required, optional } = modelFiles(kind, choice);
  let commit: string | undefined;
  /** The file's path in the snapshot, or undefined when the hub does not have it. */
  const fetchOne = async (file: string): Promise<string | undefined> => {
    try {
      const remote = await headFile(request, idOrDir, commit ?? revision, file);
      commit ??= remote.commit;
      return await downloadFile(request, folder, idOrDir, revision, file, remote);
    } catch (error) {
      if (error instanceof FileNotOnHub) return undefined;
      throw error;
    }
  };
  /** Which of `files` the hub has (HEAD requests; the hub cannot list a repository here). */
  const present = async (files: string[]): Promise<string[]> => {
    const found: string[] = [];
    for (const file of files) {
      try {
        await headFile(request, idOrDir, commit ?? revision, file);
        found.push(file);
      } catch {
        // not there, or the hub cannot say
      }
    }
    return found;
  };
  // Why the files found are not used, or which to ask for instead.
  const missingHint = async (alternatives: string[]): Promise<string> => {
    // transformers.js-style exports: graph variants, sometimes without onnx/model.onnx.
    if (alternatives.includes('onnx/model.onnx')) {
      const variants = await present(ONNX_VARIANTS);
      if (variants.length > 0) return ` (it has ${variants.join(', ')}: choose one with onnxFile / --onnx-file)`;
    }
    return pickleHint(alternatives);
  };
  // A repository with PyTorch pickles only (older checkpoints): say why they are not used.
  const pickleHint = async (alternatives: string[]): Promise<string> => {
    if (!alternatives.includes('model.safetensors')) return '';
    const [pickle] = await present(['pytorch_model.bin', 'pytorch_model.bin.index.json']);
    return pickle ? ` (it has ${pickle}, a PyTorch pickle, which crossrank does not read; its ONNX export, if any, runs with backend 'onnx')` : '';
  };
  try {
    for (const alternatives of required) {
      let found: { file: string; path: string } | undefined;
      for (const file of alternatives) {
        const path = await fetchOne(file);
        if (path) {
          found = { file, path };
          break;
        }
      }
      if (!found) throw new ModelLoadError(`${idOrDir}@${revision} has none of ${alternatives.join(', ')} on the hub${await missingHint(alternatives)}`);
      for (const companion of companionFiles(found.file, found.path)) {
        if (!(await fetchOne(companion))) throw new ModelLoadError(`${idOrDir}@${revision}: ${found.file} names ${companion}, which is not on the hub`);
      }
    }
    for (const file of optional) await fetchOne(file);
  } catch (error) {
    // Unreachable hub but a complete cached snapshot: use it, as huggingface_hub does.
    if (cached && hasFiles(cached, kind, choice) && error instanceof ModelLoadError && /cannot reach/.test(error.message)) {
      return { dir: cached, repoId: idOrDir, revision };
    }
    throw error;
  } finally {
    progress.done();
  }
  if (!isCommitHash(revision) && commit) {
    mkdirSync(join(folder, 'refs'), { recursive: true });
    writeFileSync(join(folder, 'refs', revision), commit);
  }
  return { dir: join(folder, 'snapshots', commit!), repoId: idOrDir, revision };
}
