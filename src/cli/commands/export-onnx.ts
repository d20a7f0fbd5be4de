import type { Command } from 'commander';

import { InvalidArgumentError } from '../../errors.js';
import { resolveModel } from '../../hub/resolve.js';
import { exportOnnx } from '../../onnx/export-onnx.js';
import { progressLine } from '../progress.js';

export function registerExportOnnx(program: Command): void {
  program
    .command('export-onnx')
    .description(
      "write onnx/model.onnx for a Qwen3 reranker from its safetensors (the official repositories ship none), so ONNX Runtime runs it on the CPU; 'rerank' then uses it by default",
    )
    .argument('<model>', 'a model directory, or a hub id (its safetensors are fetched into the hub cache and the graph written into that snapshot)')
    .option('--revision <rev>', 'hub branch, tag or commit', 'main')
    .option('--output <kind>', "the graph's output: yes-no (the two answer logits, default) or vocabulary (every token's logit, as public exports)", 'yes-no')
    .option('--no-kv-cache', "write the graph without key/value cache inputs and outputs (then ONNX Runtime runs every prompt whole instead of each query's prefix once)")
    .option('--force', 'replace an existing onnx/model.onnx')
    .option('--json', 'print the result as JSON')
    .action(async (model: string, options: { revision: string; output: string; kvCache: boolean; force?: boolean; json?: boolean }) => {
      if (options.output !== 'yes-no' && options.output !== 'vocabulary') {
        throw new InvalidArgumentError(`--output must be yes-no or vocabulary, got ${JSON.stringify(options.output)}`);
      }
      const { dir } = await resolveModel(model, { revision: options.revision, files: 'safetensors' });
      const progress = progressLine(`export-onnx ${model}`);
      const result = exportOnnx(dir, { output: options.output, kvCache: options.kvCache, force: options.force, onProgress: progress.update });
      progress.done();
      if (options.json) console.log(JSON.stringify({ dir, ...result }, null, 2));
      else console.log(`wrote ${result.files.join(', ')} in ${dir} (${(result.parameters / 1e6).toFixed(2)}M parameters)`);
    });
}
