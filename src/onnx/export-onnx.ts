/**
 * Writes an ONNX graph for a Qwen3 reranker from its safetensors checkpoint, so ONNX Runtime
 * can run it on the CPU: the official Qwen3-Reranker repositories ship safetensors only, and
 * ONNX Runtime's GEMMs are faster on a CPU than the native engine's plain C++ reference
 * (bench/RESULTS.md). The graph is the one crossrank writes for its synthetic Qwen3 models
 * (src/onnx/qwen3-graph.ts), checked against transformers by the device check.
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { InvalidArgumentError, ModelLoadError, OutOfMemoryError } from '../errors.js';
import { Qwen3PromptTokenizer } from '../llm/qwen3-reranker-prompt.js';
import { CheckpointReader, READABLE_DTYPES } from '../model/checkpoint-reader.js';
import { nativeDecoderConfig, type DecoderReader } from '../model/decoder-config.js';
import { readModelConfig } from '../model/model-config.js';
import { qwen3Parameters } from '../model/qwen3.js';
import { native } from '../native/load.js';
import { packageVersion } from '../package-info.js';
import { EXTERNAL_DATA_BYTES, writeQwen3Graph } from './qwen3-graph.js';

/** System errors of writing into the model directory (reads fail as ModelLoadErrors). */
const WRITE_ERRORS = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'EEXIST', 'ENOTDIR', 'EISDIR']);

const ONNX_EXPORT: DecoderReader = { name: "crossrank's ONNX export", hint: '' };

export interface ExportOnnxOptions {
  /**
   * The graph's output: 'yes-no' (default) holds the output layer's two answer rows only
   * (`yes_no_logits`, all a reranker reads); 'vocabulary' every token's logit (`logits`), as
   * public exports have it.
   */
  output?: 'yes-no' | 'vocabulary';
  /**
   * Key/value cache inputs and outputs (`past_key_values.*`, `present.*`; default true), as
   * the public exports made for generation have them: ONNX Runtime then runs each query's
   * prompt prefix once and continues it for every document (CrossEncoder's `sharePrefix`;
   * 1.4x on 10 documents of a 0.6B model, bench/RESULTS.md).
   */
  kvCache?: boolean;
  /** Replace an existing onnx/model.onnx. */
  force?: boolean;
  /** Keep the weights in onnx/model.onnx_data (default: when they reach ~1.9 GB; one protobuf holds 2 GB). */
  externalData?: boolean;
  /** Called as tensors are read: fraction done (0..1) and what is being read. */
  onProgress?: (fraction: number, stage: string) => void;
}

export interface ExportOnnxResult {
  /** The files written, relative to the model directory. */
  files: string[];
  parameters: number;
}

/**
 * Writes `dir`/onnx/model.onnx (weights past ~2 GB in onnx/model.onnx_data beside it) for the
 * Qwen3 reranker in `dir`. Afterwards `CrossEncoder.load(dir)` uses ONNX Runtime by default.
 * Tensors are read, converted to fp32 and written one at a time where the weights go to
 * model.onnx_data (a few times the largest tensor of memory: ~0.8 GB peak for 0.6B); a graph
 * under ~2 GB is assembled in memory (about twice its size).
 */
export function exportOnnx(dir: string, options: ExportOnnxOptions = {}): ExportOnnxResult {
  const modelDir = resolve(dir);
  const output = options.output ?? 'yes-no';
  if (output !== 'yes-no' && output !== 'vocabulary') {
    throw new InvalidArgumentError(`output must be 'yes-no' or 'vocabulary', got ${JSON.stringify(output)}`);
  }
  if (!existsSync(modelDir) || !statSync(modelDir).isDirectory()) {
    throw new ModelLoadError(`${modelDir} is not a directory; export-onnx writes into a model's directory (a hub model: its snapshot in the hub cache, or a copy)`);
  }
  const config = readModelConfig(modelDir);
  if (!/ForCausalLM$/.test(config.architecture) || config.modelType !== 'qwen3') {
    throw new InvalidArgumentError(
      `${modelDir} is ${config.architecture} (${config.modelType}); export-onnx writes graphs for Qwen3 rerankers (Qwen3ForCausalLM), ` +
        'which ship without one. Encoder cross-encoders usually ship onnx/model.onnx; their safetensors run on the native engine.',
    );
  }
  const dims = nativeDecoderConfig(config, join(modelDir, 'config.json'), ONNX_EXPORT);
  const tokenizerJson = join(modelDir, 'tokenizer.json');
  if (!existsSync(tokenizerJson)) throw new ModelLoadError(`${modelDir} has no tokenizer.json (the answer tokens "yes" and "no" are read from it)`);
  const prompt = Qwen3PromptTokenizer.fromFile(tokenizerJson);
  for (const id of [prompt.yesId, prompt.noId]) {
    if (id >= dims.vocabSize) throw new ModelLoadError(`${tokenizerJson}: answer token ${id} is past the model's vocabulary (${dims.vocabSize})`);
  }
  const onnxDir = join(modelDir, 'onnx');
  if (existsSync(join(onnxDir, 'model.onnx')) && !options.force) {
    throw new InvalidArgumentError(`${join(onnxDir, 'model.onnx')} exists; pass force (--force) to replace it`);
  }

  const reader = CheckpointReader.open(modelDir);
  const temp = join(modelDir, `.onnx-export-${process.pid}`);
  try {
    const specs = qwen3Parameters(dims);
    for (const spec of specs) {
      const stored = reader.shape(spec.name);
      if (!stored) throw new ModelLoadError(`${modelDir}: the checkpoint has no ${spec.name} (config.json implies [${spec.shape}])`);
      if (stored.join() !== spec.shape.join()) {
        throw new ModelLoadError(`${modelDir}: ${spec.name} is [${stored}], config.json implies [${spec.shape}]`);
      }
      const dtype = reader.dtype(spec.name)!;
      if (!READABLE_DTYPES.includes(dtype)) throw new ModelLoadError(`${modelDir}: ${spec.name} is ${dtype}; F32, F16 and BF16 weights are read`);
    }
    const counts = specs.map((spec) => spec.shape.reduce((a, b) => a * b, 1));
    const parameters = counts.reduce((a, b) => a + b, 0);
    const externalData = options.externalData ?? parameters * 4 >= EXTERNAL_DATA_BYTES;
    checkMemory(externalData ? 3 * 4 * Math.max(...counts) : 2.5 * 4 * parameters, modelDir);

    // Tensors are read when the builder asks (the tied embedding twice) and, with external
    // data, written out and dropped at once.
    const reads = specs.length + (dims.tieWordEmbeddings ? 1 : 0);
    let done = 0;
    const weights = {
      get: (name: string) => {
        options.onProgress?.(done / reads, name);
        const tensor = reader.read(name);
        done += 1;
        return tensor;
      },
    };
    rmSync(temp, { recursive: true, force: true });
    mkdirSync(temp, { recursive: true });
    const files = writeQwen3Graph(temp, externalData, dims, weights, [prompt.yesId, prompt.noId], packageVersion, { output, kvCache: options.kvCache ?? true });
    mkdirSync(onnxDir, { recursive: true });
    // A replaced graph's old external weights would be left behind, stale: removed.
    if (!externalData) rmSync(join(onnxDir, 'model.onnx_data'), { force: true });
    // The weights first, the graph last: a graph in place always finds its weights.
    for (const file of [...files].reverse()) renameSync(join(temp, file), join(onnxDir, file));
    options.onProgress?.(1, 'done');
    return { files: files.map((f) => `onnx/${f}`), parameters };
  } catch (error) {
    // A read-only or full model directory: say where, not an unexplained system error.
    if (WRITE_ERRORS.has((error as NodeJS.ErrnoException).code ?? '')) {
      throw new InvalidArgumentError(`cannot write the ONNX graph into ${modelDir}: ${(error as Error).message} (export a writable copy of the model directory)`, { cause: error });
    }
    throw error;
  } finally {
    reader.close();
    rmSync(temp, { recursive: true, force: true });
  }
}

/** Refuses an export that would not fit in memory (when the addon can tell how much there is). */
function checkMemory(needed: number, modelDir: string): void {
  let available = 0;
  try {
    available = native().availableMemory();
  } catch {
    return; // the addon did not load: no reliable figure (os.freemem leaves out the page cache)
  }
  if (available > 0 && needed > available) {
    const gb = (n: number) => `${(n / 1e9).toFixed(1)} GB`;
    throw new OutOfMemoryError(`exporting ${modelDir} needs about ${gb(needed)} of memory (its weights in fp32); ${gb(available)} is available`);
  }
}
