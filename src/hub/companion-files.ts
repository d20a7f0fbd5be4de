/**
 * Files that a downloaded model file names and that must come with it: the shards of a
 * sharded safetensors checkpoint (its index's weight_map) and the external weights of an
 * ONNX graph (initializers stored beside the graph, as exports past protobuf's 2 GB are).
 */
import { readFileSync, statSync } from 'node:fs';
import { posix } from 'node:path';

import { ModelLoadError } from '../errors.js';
import { SHARD_INDEX } from '../model/model-files.js';
import { parseShardIndex } from '../model/shard-index.js';
import { DataLocation, ModelProto } from '../onnx/schema.js';

/**
 * A graph with external weights holds only nodes and small constants (onnx moves every
 * tensor of 1 KB or more by default): a few MB even for an 8B decoder. A graph past this
 * size carries its weights inline and is not read (reading 90 MB costs ~100 ms on every
 * load from the hub cache).
 */
const MAX_SCANNED_GRAPH_BYTES = 32 * 1024 * 1024;

/** Repository paths that `repoPath` (downloaded to `localPath`) needs beside it, in a stable order. */
export function companionFiles(repoPath: string, localPath: string): string[] {
  if (posix.basename(repoPath) === SHARD_INDEX) {
    return shardFiles(readFileSync(localPath, 'utf8'), repoPath).map((shard) => posix.join(posix.dirname(repoPath), shard));
  }
  if (repoPath.endsWith('.onnx') && statSync(localPath).size <= MAX_SCANNED_GRAPH_BYTES) {
    return onnxExternalFiles(readFileSync(localPath), repoPath);
  }
  return [];
}

/** The distinct shard files of a model.safetensors.index.json, as the native loader accepts them. */
export function shardFiles(indexText: string, source = SHARD_INDEX): string[] {
  return [...new Set(parseShardIndex(indexText, source).values())].sort();
}

/** Files an ONNX graph's external initializers live in, as repository paths. */
export function onnxExternalFiles(graphBytes: Uint8Array, repoPath: string): string[] {
  let model: { graph?: { initializer?: ExternalTensor[]; node?: { attribute?: { t?: ExternalTensor }[] }[] } };
  try {
    model = ModelProto.decode(graphBytes) as typeof model;
  } catch (error) {
    throw new ModelLoadError(`${repoPath} is not an ONNX model (${(error as Error).message})`);
  }
  const tensors = [...(model.graph?.initializer ?? []), ...(model.graph?.node ?? []).flatMap((n) => (n.attribute ?? []).map((a) => a.t))];
  const files = new Set<string>();
  for (const tensor of tensors) {
    if (!tensor || tensor.dataLocation !== DataLocation.EXTERNAL) continue;
    const location = tensor.externalData?.find((e) => e.key === 'location')?.value;
    const file = location === undefined ? undefined : posix.normalize(posix.join(posix.dirname(repoPath), location));
    // The ONNX spec: a path relative to the graph's directory, never outside the model.
    if (!location || location.includes('\\') || posix.isAbsolute(location) || file!.startsWith('../') || file === '..') {
      throw new ModelLoadError(`${repoPath}: tensor ${tensor.name} keeps its data at ${JSON.stringify(location)}, not a file beside the graph`);
    }
    files.add(file!);
  }
  return [...files].sort();
}

interface ExternalTensor {
  name?: string;
  dataLocation?: number;
  externalData?: { key?: string; value?: string }[];
}
