/**
 * Rewrites an ONNX graph with its large initializers in a separate file, as exports past
 * protobuf's 2 GB are published (onnx's `save_model(..., save_as_external_data=True)`): each
 * moved tensor keeps location/offset/length entries and data_location EXTERNAL.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { DataLocation, ModelProto } from '../src/onnx/schema.js';

interface Tensor {
  rawData?: Uint8Array;
  externalData?: { key: string; value: string }[];
  dataLocation?: number;
}

/** Moves every initializer of at least `minBytes` into `dataFile` (beside the graph); returns how many moved. */
export function externalizeOnnx(graphPath: string, dataFile: string, minBytes = 1024): number {
  const model = ModelProto.decode(readFileSync(graphPath)) as unknown as { graph: { initializer: Tensor[] } };
  const chunks: Buffer[] = [];
  let offset = 0;
  let moved = 0;
  for (const tensor of model.graph.initializer) {
    const raw = tensor.rawData;
    if (!raw || raw.length < minBytes) continue;
    tensor.externalData = [
      { key: 'location', value: dataFile },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(raw.length) },
    ];
    tensor.dataLocation = DataLocation.EXTERNAL;
    delete tensor.rawData;
    chunks.push(Buffer.from(raw));
    offset += raw.length;
    moved++;
  }
  writeFileSync(join(dirname(graphPath), dataFile), Buffer.concat(chunks));
  writeFileSync(graphPath, ModelProto.encode(ModelProto.fromObject(model)).finish());
  return moved;
}
