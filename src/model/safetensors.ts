/**
 * The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian
 * header length, a JSON header {name: {dtype, shape, data_offsets}}, then the raw tensor
 * bytes. This file writes it (for synthetic models) and parses headers with the checks a
 * loader needs; the native engine reads the data itself with mmap. Models past a few GB
 * are sharded over several files with an index (writeCheckpoint).
 */
import { closeSync, fsyncSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { join } from 'node:path';

import { InvalidArgumentError, ModelLoadError } from '../errors.js';
import { writeAll } from '../util/file-io.js';
import { floatToBfloat16Bits, floatToFloat16Bits } from '../util/half.js';
import { SHARD_INDEX } from './model-files.js';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

export interface NamedTensor {
  name: string;
  shape: number[];
  /** Values in fp32; converted to the file's dtype on write. */
  data: Float32Array;
}

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  tensors: Map<string, SafetensorsEntry>;
  /** File offset of the first data byte (8 + header length). */
  dataStart: number;
}

const littleEndian = endianness() === 'LE';
const bytesPerElement: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

function encodeTensor(data: Float32Array, dtype: SafetensorsDtype): Uint8Array {
  if (dtype === 'F32') {
    if (littleEndian) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const copy = new Uint8Array(data.byteLength);
    const view = new DataView(copy.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
    return copy;
  }
  const toBits = dtype === 'F16' ? floatToFloat16Bits : floatToBfloat16Bits;
  const out = new Uint8Array(data.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setUint16(i * 2, toBits(data[i]), true);
  return out;
}

/**
 * Writes tensors (sorted by name, so the file depends only on its content) to `path`
 * atomically: a temporary file is written, synced and renamed over the target.
 */
export function writeSafetensors(
  path: string,
  tensors: NamedTensor[],
  dtype: SafetensorsDtype,
  metadata: Record<string, string> = { format: 'pt' },
): void {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of sorted) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`tensor ${t.name}: shape ${t.shape} does not match ${t.data.length} values`);
    const size = count * bytesPerElement[dtype];
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const lengthBytes = Buffer.alloc(8);
  lengthBytes.writeBigUInt64LE(BigInt(headerBytes.length));

  const temp = `${path}.tmp-${process.pid}`;
  const fd = openSync(temp, 'w');
  try {
    writeAll(fd, lengthBytes);
    writeAll(fd, headerBytes);
    for (const t of sorted) writeAll(fd, encodeTensor(t.data, dtype));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

/**
 * Writes a model's weights into `dir` as transformers saves them: one model.safetensors, or,
 * when they exceed `maxShardBytes`, shards model-0000i-of-0000n.safetensors filled in the
 * given tensor order (a tensor larger than the limit gets a shard of its own) and a
 * model.safetensors.index.json mapping each tensor to its shard. Returns the files written.
 */
export function writeCheckpoint(dir: string, tensors: NamedTensor[], dtype: SafetensorsDtype, maxShardBytes = Infinity): string[] {
  const sizeOf = (t: NamedTensor) => t.data.length * bytesPerElement[dtype];
  const total = tensors.reduce((n, t) => n + sizeOf(t), 0);
  if (!(maxShardBytes > 0)) throw new InvalidArgumentError(`the shard size limit must be positive, got ${maxShardBytes}`);
  if (total <= maxShardBytes) {
    writeSafetensors(join(dir, 'model.safetensors'), tensors, dtype);
    return ['model.safetensors'];
  }
  const shards: NamedTensor[][] = [[]];
  let size = 0;
  for (const t of tensors) {
    if (size > 0 && size + sizeOf(t) > maxShardBytes) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(t);
    size += sizeOf(t);
  }
  const width = (n: number) => String(n).padStart(5, '0');
  const names = shards.map((_, i) => `model-${width(i + 1)}-of-${width(shards.length)}.safetensors`);
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, i) => {
    writeSafetensors(join(dir, names[i]), shard, dtype);
    for (const t of shard) weightMap[t.name] = names[i];
  });
  const sortedMap = Object.fromEntries(Object.keys(weightMap).sort().map((name) => [name, weightMap[name]]));
  writeFileSync(join(dir, SHARD_INDEX), `${JSON.stringify({ metadata: { total_size: total }, weight_map: sortedMap }, null, 2)}\n`);
  return [...names, SHARD_INDEX];
}

/** Upper bound on the JSON header, as the reference implementation enforces (100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

/**
 * Parses and validates the header of a safetensors file held in `bytes` (at least the
 * header; `fileSize` is the whole file's size). Throws ModelLoadError naming the problem.
 */
export function parseSafetensorsHeader(bytes: Uint8Array, fileSize: number, source = 'model.safetensors'): SafetensorsHeader {
  if (bytes.length < 8) throw new ModelLoadError(`${source}: file too short for a safetensors header`);
  const headerLength = Number(Buffer.from(bytes.buffer, bytes.byteOffset, 8).readBigUInt64LE());
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > fileSize) {
    throw new ModelLoadError(`${source}: header length ${headerLength} exceeds the file (${fileSize} bytes) or the 100 MB limit`);
  }
  if (bytes.length < 8 + headerLength) throw new ModelLoadError(`${source}: header truncated`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, headerLength).toString('utf8'));
  } catch (error) {
    throw new ModelLoadError(`${source}: header is not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ModelLoadError(`${source}: header is not a JSON object`);
  }
  const dataStart = 8 + headerLength;
  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  const sizes: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = value as Record<string, string>;
      continue;
    }
    const entry = value as SafetensorsEntry;
    const elementSize = sizes[entry?.dtype];
    if (!elementSize) throw new ModelLoadError(`${source}: tensor ${name} has unsupported dtype ${entry?.dtype}`);
    if (!Array.isArray(entry.shape) || !entry.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new ModelLoadError(`${source}: tensor ${name} has an invalid shape`);
    }
    const [begin, end] = entry.data_offsets ?? [];
    const expected = entry.shape.reduce((a, b) => a * b, 1) * elementSize;
    if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 0 || end < begin || end > dataSize) {
      throw new ModelLoadError(`${source}: tensor ${name} has data offsets [${begin}, ${end}] outside the data (${dataSize} bytes)`);
    }
    if (end - begin !== expected) {
      throw new ModelLoadError(`${source}: tensor ${name} holds ${end - begin} bytes, its dtype and shape need ${expected}`);
    }
    tensors.set(name, entry);
  }
  const spans = [...tensors.entries()].sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][1].data_offsets[0] < spans[i - 1][1].data_offsets[1]) {
      throw new ModelLoadError(`${source}: tensors ${spans[i - 1][0]} and ${spans[i][0]} overlap`);
    }
  }
  return { metadata, tensors, dataStart };
}
