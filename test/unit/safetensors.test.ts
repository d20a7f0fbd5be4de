import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { byteSize } from '../../src/cli/options.js';
import { InvalidArgumentError, ModelLoadError } from '../../src/errors.js';
import { onnxExternalFiles, shardFiles } from '../../src/hub/companion-files.js';
import { CheckpointReader } from '../../src/model/checkpoint-reader.js';
import { parseSafetensorsHeader, writeCheckpoint, writeSafetensors } from '../../src/model/safetensors.js';
import { DataLocation, ModelProto } from '../../src/onnx/schema.js';
import { readAll, writeAll } from '../../src/util/file-io.js';
import { bfloat16BitsToFloat, float16BitsToFloat, floatToBfloat16Bits, floatToFloat16Bits } from '../../src/util/half.js';
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

describe('sharded checkpoints', () => {
  const tensor = (name: string, n: number) => ({ name, shape: [n], data: new Float32Array(n) });

  it('fills shards in tensor order; a tensor past the limit gets its own; the index maps each', () => {
    const out = join(dir.path, 'sharded');
    mkdirSync(out);
    // F32 sizes 400, 400, 2000, 40 bytes with a 1000-byte limit: [a b] [big] [c].
    const files = writeCheckpoint(out, [tensor('a', 100), tensor('b', 100), tensor('big', 500), tensor('c', 10)], 'F32', 1000);
    const shards = ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors'];
    expect(files).toEqual([...shards, 'model.safetensors.index.json']);
    expect(readdirSync(out).sort()).toEqual([...shards, 'model.safetensors.index.json'].sort());
    const index = JSON.parse(readFileSync(join(out, 'model.safetensors.index.json'), 'utf8'));
    expect(index).toEqual({ metadata: { total_size: 2840 }, weight_map: { a: shards[0], b: shards[0], big: shards[1], c: shards[2] } });
    const header = parseSafetensorsHeader(readFileSync(join(out, shards[0])), readFileSync(join(out, shards[0])).length);
    expect([...header.tensors.keys()]).toEqual(['a', 'b']);
    expect(shardFiles(JSON.stringify(index))).toEqual(shards);
  });

  it('writes one model.safetensors when the weights fit, and refuses a limit that is not positive', () => {
    const out = join(dir.path, 'single');
    mkdirSync(out);
    expect(writeCheckpoint(out, [tensor('a', 100)], 'F16', 200)).toEqual(['model.safetensors']);
    expect(() => writeCheckpoint(out, [tensor('a', 100)], 'F16', 0)).toThrow(InvalidArgumentError);
  });

  it('an index names shards beside it only', () => {
    for (const bad of ['{', '{}', '{"weight_map":{}}', '{"weight_map":{"a":"../x.safetensors"}}', '{"weight_map":{"a":"sub/x.safetensors"}}', '{"weight_map":{"a":"x.bin"}}', '{"weight_map":{"a":".safetensors"}}', '{"weight_map":{"a":7}}']) {
      expect(() => shardFiles(bad), bad).toThrow(ModelLoadError);
    }
  });

  it('--max-shard-size reads sizes as transformers writes them', () => {
    const parse = byteSize('--max-shard-size');
    expect(parse('123')).toBe(123);
    expect(parse('500MB')).toBe(500e6);
    expect(parse('5GB')).toBe(5e9);
    expect(parse('2GiB')).toBe(2 * 1024 ** 3);
    expect(parse('1.5kb')).toBe(1500);
    for (const bad of ['', '0', '-5', '5XB', 'GB', '1e3']) expect(() => parse(bad), bad).toThrow(InvalidArgumentError);
  });
});

describe("an ONNX graph's external weights", () => {
  const graph = (locations: (string | undefined)[]) =>
    ModelProto.encode(
      ModelProto.fromObject({
        graph: {
          initializer: locations.map((location, i) =>
            location === undefined
              ? { name: `inline${i}`, rawData: new Uint8Array(4) }
              : { name: `w${i}`, dataLocation: DataLocation.EXTERNAL, externalData: [{ key: 'location', value: location }, { key: 'offset', value: '0' }] },
          ),
        },
      }),
    ).finish();

  it('are the distinct files its initializers name, relative to the graph', () => {
    expect(onnxExternalFiles(graph(['model.onnx_data', undefined, 'model.onnx_data', 'extra.bin']), 'onnx/model.onnx')).toEqual(['onnx/extra.bin', 'onnx/model.onnx_data']);
    expect(onnxExternalFiles(graph([undefined]), 'model.onnx')).toEqual([]);
  });

  it('never point outside the repository', () => {
    for (const bad of ['../../secret', '/etc/passwd', '..\\x', '']) {
      expect(() => onnxExternalFiles(graph([bad]), 'onnx/model.onnx'), bad).toThrow(ModelLoadError);
    }
    expect(() => onnxExternalFiles(Buffer.from('not a protobuf at all'), 'onnx/model.onnx')).toThrow(ModelLoadError);
  });
});

describe('CheckpointReader', () => {
  const values = Float32Array.from([0, 1.5, -2.25, 65504, 1e-7, -0, 3.140625]);

  it('reads F32 exactly and F16 / BF16 as the values they store, from one file or shards', () => {
    for (const [dtype, shard] of [['F32', Infinity], ['F16', 20], ['BF16', 20]] as const) {
      const out = join(dir.path, `reader-${dtype}`);
      mkdirSync(out);
      writeCheckpoint(out, [{ name: 'w', shape: [7], data: values }, { name: 'v', shape: [1, 2], data: Float32Array.from([0.5, -8]) }], dtype, shard);
      const reader = CheckpointReader.open(out);
      expect(reader.names().sort()).toEqual(['v', 'w']);
      expect(reader.shape('v')).toEqual([1, 2]);
      const w = reader.read('w');
      const stored = (x: number) =>
        dtype === 'F32' ? Math.fround(x) : dtype === 'F16' ? float16BitsToFloat(floatToFloat16Bits(x)) : bfloat16BitsToFloat(floatToBfloat16Bits(x));
      expect(Array.from(w)).toEqual(Array.from(values, stored));
      expect(Array.from(reader.read('v'))).toEqual([0.5, -8]);
      expect(() => reader.read('nope')).toThrow(/no tensor nope/);
      reader.close();
    }
  });

  it('a shard the index names must exist and hold what the index places there', () => {
    const out = join(dir.path, 'reader-bad-index');
    mkdirSync(out);
    writeCheckpoint(out, [{ name: 'a', shape: [100], data: new Float32Array(100) }, { name: 'b', shape: [100], data: new Float32Array(100) }], 'F32', 500);
    const indexPath = join(out, 'model.safetensors.index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8'));
    const [first, second] = [index.weight_map.a, index.weight_map.b];
    writeFileSync(indexPath, JSON.stringify({ weight_map: { a: second, b: first } }));
    expect(() => CheckpointReader.open(out)).toThrow(/holds a, which model\.safetensors\.index\.json places in/);
    writeFileSync(indexPath, JSON.stringify({ weight_map: { ...index.weight_map, c: first } }));
    expect(() => CheckpointReader.open(out)).toThrow(/lacks c/);
    writeFileSync(indexPath, JSON.stringify({ weight_map: { a: first, b: 'model-00009-of-00009.safetensors' } }));
    expect(() => CheckpointReader.open(out)).toThrow(/model-00009-of-00009\.safetensors is missing/);
  });
});

describe('whole-buffer file reads and writes', () => {
  it('move every byte however small the chunks, and report a short read at the end of the file', () => {
    const path = join(dir.path, 'chunks.bin');
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 37) & 0xff);
    const fd = openSync(path, 'w+');
    writeAll(fd, bytes, 7);
    const back = new Uint8Array(1000);
    expect(readAll(fd, back, 0, 13)).toBe(1000);
    expect(Buffer.from(back).equals(Buffer.from(bytes))).toBe(true);
    expect(readAll(fd, new Uint8Array(100), 950, 7)).toBe(50);
    closeSync(fd);
  });
});
