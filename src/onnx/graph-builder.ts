/**
 * A small builder for ONNX graphs: add initializers, constants and nodes by name, then
 * serialise a ModelProto. Names are generated deterministically so the same model always
 * gives the same bytes. Models past protobuf's 2 GB keep their large initializers in a
 * file beside the graph (ONNX external data), as the public exports of large models do.
 */
import { closeSync, openSync } from 'node:fs';
import { basename } from 'node:path';
import { endianness } from 'node:os';

import { writeAll } from '../util/file-io.js';
import { AttributeType, DataLocation, DataType, ModelProto } from './schema.js';

/** Where a builder puts initializers of at least `minBytes`: appended to one file. */
export interface ExternalData {
  /** The file's name as the graph records it (relative to the graph's directory). */
  location: string;
  minBytes: number;
  append(bytes: Uint8Array): void;
}

/** Each tensor starts on a page boundary, so a runtime can map it in place. */
const EXTERNAL_ALIGNMENT = 4096;

/** Runs `build` with an ExternalData sink writing to `path` (its base name is the recorded location). */
export function withExternalDataFile<T>(path: string, build: (external: ExternalData) => T, minBytes = 1024): T {
  const fd = openSync(path, 'w');
  try {
    return build({ location: basename(path), minBytes, append: (bytes) => writeAll(fd, bytes) });
  } finally {
    closeSync(fd);
  }
}

type AttributeValue = number | number[] | { int: number } | { ints: number[] } | { float: number };

interface NodeRecord {
  opType: string;
  domain?: string;
  name: string;
  input: string[];
  output: string[];
  attribute: Record<string, unknown>[];
}

interface TensorRecord {
  name: string;
  dims: number[];
  dataType: number;
  rawData?: Uint8Array;
  dataLocation?: number;
  externalData?: { key: string; value: string }[];
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
  readonly #external: ExternalData | undefined;
  /** Operator domains besides ONNX's own that the nodes use (imported at version 1). */
  readonly #domains = new Set<string>();
  #externalOffset = 0;

  /**
   * With `external`, initializers of at least `external.minBytes` are written to its file as
   * they are added (page-aligned, in graph order) and the graph records their location, offset
   * and length: the builder never holds the weights, so a model larger than memory can be built.
   */
  constructor(external?: ExternalData) {
    this.#external = external;
  }

  /** A fresh tensor or node name with the given stem. */
  fresh(stem: string): string {
    const n = this.#counts.get(stem) ?? 0;
    this.#counts.set(stem, n + 1);
    return `${stem}_${n}`;
  }

  floatInitializer(name: string, dims: number[], values: Float32Array): string {
    this.#addInitializer({ name, dims, dataType: DataType.FLOAT, rawData: bytesOf(values) });
    return name;
  }

  int64Initializer(name: string, dims: number[], values: number[]): string {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    this.#addInitializer({ name, dims, dataType: DataType.INT64, rawData: bytesOf(data) });
    return name;
  }

  #addInitializer(tensor: TensorRecord & { rawData: Uint8Array }): void {
    const external = this.#external;
    if (!external || tensor.rawData.length < external.minBytes) {
      this.#initializers.push(tensor);
      return;
    }
    const padding = (EXTERNAL_ALIGNMENT - (this.#externalOffset % EXTERNAL_ALIGNMENT)) % EXTERNAL_ALIGNMENT;
    if (padding > 0) external.append(new Uint8Array(padding));
    const offset = this.#externalOffset + padding;
    external.append(tensor.rawData);
    this.#externalOffset = offset + tensor.rawData.length;
    this.#initializers.push({
      name: tensor.name,
      dims: tensor.dims,
      dataType: tensor.dataType,
      dataLocation: DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: external.location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(tensor.rawData.length) },
      ],
    });
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
    this.#nodes.push({ opType, name: this.fresh(`/${opType}`), input: inputs, output: [output], attribute: attributeList(attributes) });
    return output;
  }

  /**
   * Adds a node of another operator domain (ONNX Runtime's `com.microsoft` contrib operators)
   * with several outputs, named by `outputs` ('' for an output not wanted, '' inputs for
   * optional ones left out); returns the output names.
   */
  domainOp(domain: string, opType: string, inputs: string[], outputs: string[], attributes: Record<string, AttributeValue> = {}): string[] {
    this.#domains.add(domain);
    this.#nodes.push({ opType, domain, name: this.fresh(`/${opType}`), input: inputs, output: outputs, attribute: attributeList(attributes) });
    return outputs;
  }


  /** Serialises the graph as an ONNX ModelProto (external initializers were written when added). */
  encode(
    options: {
      graphName: string;
      inputs: ValueInfo[];
      outputs: ValueInfo[];
      opset: number;
      irVersion: number;
      producerName: string;
      producerVersion: string;
    },
  ): Uint8Array {
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
      opsetImport: [{ domain: '', version: options.opset }, ...[...this.#domains].map((domain) => ({ domain, version: 1 }))],
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

function attributeList(attributes: Record<string, AttributeValue>): Record<string, unknown>[] {
  return Object.entries(attributes).map(([name, value]) => {
    if (typeof value === 'object' && !Array.isArray(value) && 'float' in value) {
      return { name, type: AttributeType.FLOAT, f: value.float };
    }
    if (typeof value === 'number' || (typeof value === 'object' && !Array.isArray(value) && 'int' in value)) {
      return { name, type: AttributeType.INT, i: typeof value === 'number' ? value : value.int };
    }
    const ints = Array.isArray(value) ? value : value.ints;
    return { name, type: AttributeType.INTS, ints };
  });
}

export { DataType };
