import type { Command } from 'commander';

import { makeModel } from '../../model/make-model.js';
import type { WeightDtype } from '../../model/hf-config.js';
import { presetNames } from '../../model/presets.js';
import { qwen3Presets } from '../../model/qwen3.js';
import { byteSize, integer } from '../options.js';
import { progressLine } from '../progress.js';

export function registerMakeModel(program: Command): void {
  program
    .command('make-model')
    .description('write a synthetic model (seeded random weights) in the Hugging Face layout, with an ONNX graph')
    .requiredOption('--preset <name>', `model shape: ${[...presetNames, ...Object.keys(qwen3Presets)].join(', ')}`)
    .requiredOption('--out <dir>', 'output directory')
    .option('--seed <n>', 'random seed', integer('--seed'), 0)
    .option('--tokenizer <dir>', 'tokenizer directory to copy (default: the shared bert-base-uncased tokenizer)')
    .option('--dtype <dtype>', 'safetensors dtype: fp32, fp16 or bf16', 'fp32')
    .option('--num-labels <n>', "override the preset's number of labels", integer('--num-labels', 1))
    .option('--max-shard-size <size>', 'shard the weights over files of at most this size with model.safetensors.index.json, as transformers saves large models (e.g. 500MB, 5GB)', byteSize('--max-shard-size'))
    .option('--force', 'replace the output directory if it exists')
    .option('--json', 'print the result as JSON')
    .action((options: {
      preset: string;
      out: string;
      seed: number;
      tokenizer?: string;
      dtype: string;
      numLabels?: number;
      maxShardSize?: number;
      force?: boolean;
      json?: boolean;
    }) => {
      const progress = progressLine(`make-model ${options.preset}`);
      const result = makeModel({
        preset: options.preset,
        seed: options.seed,
        out: options.out,
        tokenizer: options.tokenizer,
        dtype: options.dtype as WeightDtype,
        numLabels: options.numLabels,
        force: options.force,
        maxShardBytes: options.maxShardSize,
        onProgress: progress.update,
      });
      progress.done();
      if (options.json) {
        console.log(JSON.stringify({ dir: result.dir, files: result.files, parameters: result.parameters }, null, 2));
      } else {
        console.log(`wrote ${result.dir} (${(result.parameters / 1e6).toFixed(2)}M parameters): ${result.files.join(', ')}`);
      }
    });
}
