/**
 * A small builder for ONNX graphs: add initializers, constants and nodes by name, then
 * serialise a ModelProto. Names are generated deterministically so the same model always
 * gives the same bytes.
 */
import { endianness } from 'node:os';

import { AttributeType, DataType, ModelProto } from './schema.js';

type AttributeValue = number | number[] | { int: number } | { ints: number[] } | { float: number };

interface NodeRecord {
  opType: string;
  name: string;
  input: string[];
  output: string[];
  attribute: Record<string, unknown>[];
}

interface TensorRecord {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
}

export interface ValueInfo {
  name: string;
  elemType: number;
  /** Fixed sizes or symbolic names ("batch_size"). */
  shape: (number | string)[];
}

const littleEndian = endianness() === 'LE';

function bytesOf(values: Float32Array | BigInt64Array): Uint8Array {
  if (littleEndian) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.byteLength);
  const view = new DataView(out.buffer);
  values.forEach((v: number | bigint, i: number) =>
    typeof v === 'bigint' ? view.setBigInt64(i * 8, v, true) : view.setFloat32(i * 4, v, true),
  );
  return out;
}

export class GraphBuilder {
  readonly #nodes: NodeRecord[] = [];
  readonly #initializers: TensorRecord[] = [];
  readonly #counts = new Map<string, number>();

  /** A fresh tensor or node name with the given stem. */
  fresh(stem: string): string {
    const n = this.#counts.get(stem) ?? 0;
    this.#counts.set(stem, n + 1);
    return `${stem}_${n}`;
  }

  floatInitializer(name: string, dims: number[], values: Float32Array): string {
    this.#initializers.push({ name, dims, dataType: DataType.FLOAT, rawData: bytesOf(values) });
    return name;
  }

  int64Initializer(name: string, dims: number[], values: number[]): string {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    this.#initializers.push({ name, dims, dataType: DataType.INT64, rawData: bytesOf(data) });
    return name;
  }

  /** A float constant (scalar when dims is []), stored as an initializer. */
  floatConstant(value: number | number[], dims: number[] = []): string {
    const values = Array.isArray(value) ? value : [value];
    return this.floatInitializer(this.fresh('const_f'), dims, Float32Array.from(values));
  }

  int64Constant(value: number | number[], dims?: number[]): string {
    const values = Array.isArray(value) ? value : [value];
    return this.int64Initializer(this.fresh('const_i'), dims ?? (Array.isArray(value) ? [values.length] : []), values);
  }

  /** Adds a node with one output and returns the output's name. */
  op(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, outputName?: string): string {
    const output = outputName ?? this.fresh(opType.toLowerCase());
    const attribute = Object.entries(attributes).map(([name, value]) => {
      if (typeof value === 'object' && !Array.isArray(value) && 'float' in value) {
        return { name, type: AttributeType.FLOAT, f: value.float };
      }
      if (typeof value === 'number' || (typeof value === 'object' && !Array.isArray(value) && 'int' in value)) {
        return { name, type: AttributeType.INT, i: typeof value === 'number' ? value : value.int };
      }
      const ints = Array.isArray(value) ? value : value.ints;
      return { name, type: AttributeType.INTS, ints };
    });
    this.#nodes.push({ opType, name: this.fresh(`/${opType}`), input: inputs, output: [output], attribute });
    return output;
  }

  /** Serialises the graph as an ONNX ModelProto. */
  encode(options: {
    graphName: string;
    inputs: ValueInfo[];
    outputs: ValueInfo[];
    opset: number;
    irVersion: number;
    producerName: string;
    producerVersion: string;
  }): Uint8Array {
    const valueInfo = (v: ValueInfo) => ({
      name: v.name,
      type: {
        tensorType: {
          elemType: v.elemType,
          shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
        },
      },
    });
    const message = ModelProto.fromObject({
      irVersion: options.irVersion,
      producerName: options.producerName,
      producerVersion: options.producerVersion,
      opsetImport: [{ domain: '', version: options.opset }],
      graph: {
        name: options.graphName,
        node: this.#nodes,
        initializer: this.#initializers,
        input: options.inputs.map(valueInfo),
        output: options.outputs.map(valueInfo),
      },
    });
    return ModelProto.encode(message).finish();
  }
}

export { DataType };
