/**
 * model.safetensors.index.json: the tensor → shard map of a checkpoint sharded over several
 * safetensors files, checked as the native loader checks it (every shard a plain .safetensors
 * name beside the index).
 */
import { ModelLoadError } from '../errors.js';
import { SHARD_INDEX } from './model-files.js';

export function parseShardIndex(indexText: string, source = SHARD_INDEX): Map<string, string> {
  let index: unknown;
  try {
    index = JSON.parse(indexText);
  } catch (error) {
    throw new ModelLoadError(`${source} is not valid JSON (${(error as Error).message})`);
  }
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map) || Object.keys(map).length === 0) {
    throw new ModelLoadError(`${source} has no "weight_map" (tensor name -> shard file)`);
  }
  const shards = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(map)) {
    if (typeof shard !== 'string' || !/^[^./\\][^/\\]*\.safetensors$/.test(shard)) {
      throw new ModelLoadError(`${source}: tensor ${tensor} is mapped to ${JSON.stringify(shard)}, not a .safetensors file beside the index`);
    }
    shards.set(tensor, shard);
  }
  return shards;
}
