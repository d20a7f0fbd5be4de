/**
 * Reads the tensors of a safetensors checkpoint — model.safetensors, or the shards a
 * model.safetensors.index.json names — one at a time as fp32, for work done in JavaScript
 * (writing an ONNX graph from real weights). Headers are validated as the native loader
 * validates them; only the requested tensor's bytes are read, so a checkpoint larger than
 * memory can be walked tensor by tensor.
 */
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { basename, dirname, join } from 'node:path';

import { ModelLoadError } from '../errors.js';
import { readAll } from '../util/file-io.js';
import { float16BitsToFloat } from '../util/half.js';
import { SHARD_INDEX, weightsPath } from './model-files.js';
import { MAX_HEADER_BYTES, parseSafetensorsHeader, type SafetensorsEntry } from './safetensors.js';
import { parseShardIndex } from './shard-index.js';

/** The dtypes read() converts to fp32. */
export const READABLE_DTYPES = ['F32', 'F16', 'BF16'];

interface OpenShard {
  name: string;
  fd: number;
  dataStart: number;
}

interface Located {
  shard: OpenShard;
  entry: SafetensorsEntry;
}

export class CheckpointReader {
  private constructor(
    private readonly shards: OpenShard[],
    private readonly tensors: Map<string, Located>,
  ) {}

  /** Opens the checkpoint of a model directory (model.safetensors first, else the shard index). */
  static open(dir: string): CheckpointReader {
    const path = weightsPath(dir);
    if (basename(path) !== SHARD_INDEX) return CheckpointReader.fromShards([basename(path)], dirname(path), undefined);
    const map = parseShardIndex(readFileSync(path, 'utf8'), path);
    return CheckpointReader.fromShards([...new Set(map.values())].sort(), dirname(path), map);
  }

  private static fromShards(names: string[], dir: string, index: Map<string, string> | undefined): CheckpointReader {
    const shards: OpenShard[] = [];
    const tensors = new Map<string, Located>();
    try {
      for (const name of names) {
        const path = join(dir, name);
        let fd: number;
        try {
          fd = openSync(path, 'r');
        } catch (error) {
          const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : `cannot be opened (${(error as Error).message})`;
          throw new ModelLoadError(`${path} ${why}${index ? ` (named by ${SHARD_INDEX})` : ''}`);
        }
        const shard: OpenShard = { name, fd, dataStart: 0 };
        shards.push(shard);
        const stat = fstatSync(fd);
        if (!stat.isFile()) throw new ModelLoadError(`${path} is not a regular file`);
        const header = parseSafetensorsHeader(readHeaderBytes(fd, stat.size), stat.size, path);
        shard.dataStart = header.dataStart;
        for (const [tensor, entry] of header.tensors) {
          if (index && index.get(tensor) !== name) {
            throw new ModelLoadError(`${path} holds ${tensor}, which ${SHARD_INDEX} ${index.has(tensor) ? `places in ${index.get(tensor)}` : 'does not list'}`);
          }
          if (tensors.has(tensor)) throw new ModelLoadError(`${path}: tensor ${tensor} is also in ${tensors.get(tensor)!.shard.name}`);
          tensors.set(tensor, { shard, entry });
        }
      }
      for (const [tensor, shard] of index ?? []) {
        if (!tensors.has(tensor)) throw new ModelLoadError(`${join(dir, shard)} lacks ${tensor}, which ${SHARD_INDEX} places there`);
      }
    } catch (error) {
      for (const shard of shards) closeSync(shard.fd);
      throw error;
    }
    return new CheckpointReader(shards, tensors);
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  /** The stored shape, or undefined when the checkpoint has no such tensor. */
  shape(name: string): number[] | undefined {
    return this.tensors.get(name)?.entry.shape;
  }

  /** The stored dtype (F32, F16, BF16 are readable), or undefined when there is no such tensor. */
  dtype(name: string): string | undefined {
    return this.tensors.get(name)?.entry.dtype;
  }

  /** A tensor as fp32 (stored as F32, F16 or BF16). */
  read(name: string): Float32Array {
    const located = this.tensors.get(name);
    if (!located) throw new ModelLoadError(`the checkpoint has no tensor ${name}`);
    const { shard, entry } = located;
    const [begin, end] = entry.data_offsets;
    // A buffer of its own (offset 0, aligned) so fp32 data is viewed in place, not copied.
    const bytes = new Uint8Array(new ArrayBuffer(end - begin));
    if (readAll(shard.fd, bytes, shard.dataStart + begin) < bytes.length) {
      throw new ModelLoadError(`${shard.name}: tensor ${name} ends past the end of the file`);
    }
    return toFloat32(bytes, entry.dtype, `${shard.name}: tensor ${name}`);
  }

  close(): void {
    for (const shard of this.shards.splice(0)) closeSync(shard.fd);
  }
}

function readHeaderBytes(fd: number, fileSize: number): Uint8Array {
  const prefix = Buffer.alloc(Math.min(8, fileSize));
  readAll(fd, prefix, 0);
  if (prefix.length < 8) return prefix; // parseSafetensorsHeader says the file is too short
  const length = Number(prefix.readBigUInt64LE());
  // A length past the file or the limit: the prefix alone lets parseSafetensorsHeader say so.
  if (8 + length > fileSize || length > MAX_HEADER_BYTES) return prefix;
  const bytes = Buffer.alloc(8 + length);
  prefix.copy(bytes);
  return bytes.subarray(0, 8 + readAll(fd, bytes.subarray(8), 8));
}

/** Every fp16 bit pattern's value, built on first use (256 KB). */
let halfTable: Float32Array | undefined;
const littleEndian = endianness() === 'LE';

function toFloat32(bytes: Uint8Array, dtype: string, source: string): Float32Array {
  if (!READABLE_DTYPES.includes(dtype)) throw new ModelLoadError(`${source} is ${dtype}; F32, F16 and BF16 weights are read`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') {
    const out = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    if (!littleEndian) for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  const count = bytes.byteLength / 2;
  const half = littleEndian ? new Uint16Array(bytes.buffer, bytes.byteOffset, count) : Uint16Array.from({ length: count }, (_, i) => view.getUint16(i * 2, true));
  const out = new Float32Array(count);
  if (dtype === 'BF16') {
    // bf16 is the top half of an fp32: shift the bits into place.
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) bits[i] = half[i] << 16;
    return out;
  }
  halfTable ??= Float32Array.from({ length: 65536 }, (_, bits) => float16BitsToFloat(bits));
  for (let i = 0; i < count; i++) out[i] = halfTable[half[i]];
  return out;
}
