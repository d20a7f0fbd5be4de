import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { ModelLoadError } from '../../src/errors.js';
import { parseSafetensorsHeader, writeSafetensors } from '../../src/model/safetensors.js';
import { float16BitsToFloat } from '../../src/util/half.js';
import { tempDir } from '../helpers.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

function fileWithHeader(header: unknown, dataBytes = 0): Uint8Array {
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.alloc(8 + json.length + dataBytes);
  out.writeBigUInt64LE(BigInt(json.length));
  json.copy(out, 8);
  return out;
}

describe('safetensors writer', () => {
  it('writes a sorted, 8-byte aligned header and little-endian data', () => {
    const path = join(dir.path, 'a.safetensors');
    writeSafetensors(path, [
      { name: 'b', shape: [2], data: Float32Array.from([1.5, -2]) },
      { name: 'a', shape: [1, 1], data: Float32Array.from([3]) },
    ], 'F32');
    const bytes = readFileSync(path);
    const header = parseSafetensorsHeader(bytes, bytes.length);
    expect(header.dataStart % 8).toBe(0);
    expect([...header.tensors.keys()]).toEqual(['a', 'b']);
    expect(header.tensors.get('a')).toEqual({ dtype: 'F32', shape: [1, 1], data_offsets: [0, 4] });
    expect(header.metadata).toEqual({ format: 'pt' });
    const b = header.tensors.get('b')!;
    expect(bytes.readFloatLE(header.dataStart + b.data_offsets[0])).toBe(1.5);
    expect(bytes.readFloatLE(header.dataStart + b.data_offsets[0] + 4)).toBe(-2);
  });

  it('converts to fp16', () => {
    const path = join(dir.path, 'h.safetensors');
    writeSafetensors(path, [{ name: 'x', shape: [2], data: Float32Array.from([0.5, -1]) }], 'F16');
    const bytes = readFileSync(path);
    const header = parseSafetensorsHeader(bytes, bytes.length);
    expect(header.tensors.get('x')!.data_offsets).toEqual([0, 4]);
    expect(float16BitsToFloat(bytes.readUInt16LE(header.dataStart))).toBe(0.5);
    expect(float16BitsToFloat(bytes.readUInt16LE(header.dataStart + 2))).toBe(-1);
  });

  it('refuses data that does not match the shape', () => {
    expect(() => writeSafetensors(join(dir.path, 'bad'), [{ name: 'x', shape: [3], data: new Float32Array(2) }], 'F32')).toThrow(
      /shape/,
    );
  });
});

describe('safetensors header validation', () => {
  const expectError = (bytes: Uint8Array, pattern: RegExp, size = bytes.length) => {
    const run = () => parseSafetensorsHeader(bytes, size, 'test.safetensors');
    expect(run).toThrow(ModelLoadError);
    expect(run).toThrow(pattern);
  };

  it('rejects a file shorter than the length prefix', () => expectError(new Uint8Array(4), /too short/));

  it('rejects a header length beyond the file', () => {
    const bytes = Buffer.alloc(16);
    bytes.writeBigUInt64LE(1000n);
    expectError(bytes, /exceeds the file/);
  });

  it('rejects a header length beyond 100 MB even in a huge file', () => {
    const bytes = Buffer.alloc(16);
    bytes.writeBigUInt64LE(200_000_000n);
    expectError(bytes, /100 MB/, 1e12);
  });

  it('rejects malformed JSON and non-object headers', () => {
    const bytes = Buffer.alloc(8 + 3);
    bytes.writeBigUInt64LE(3n);
    bytes.write('{x]', 8);
    expectError(bytes, /not valid JSON/);
    expectError(fileWithHeader([1, 2]), /not a JSON object/);
  });

  it('rejects offsets out of range, wrong sizes, bad dtypes and overlaps, naming the tensor', () => {
    expectError(fileWithHeader({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 4), /tensor w .*outside/);
    expectError(fileWithHeader({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /tensor w holds 8 bytes.*12/);
    expectError(fileWithHeader({ w: { dtype: 'Q4', shape: [2], data_offsets: [0, 8] } }, 8), /tensor w has unsupported dtype/);
    expectError(fileWithHeader({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 8), /tensor w has an invalid shape/);
    expectError(
      fileWithHeader(
        {
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
        },
        12,
      ),
      /a and b overlap/,
    );
  });
});
