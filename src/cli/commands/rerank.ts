import type { Command } from 'commander';

import { CrossEncoder } from '../../cross-encoder.js';
import { parseActivation } from '../../model/head.js';
import type { CudaElementType } from '../../native/binding.js';
import { BACKEND_HELP, BATCH_TOKENS_HELP, integer, number, ONNX_FILE_HELP, precision, PRECISION_HELP } from '../options.js';
import { readDocuments } from '../read-input.js';

interface RerankOptions {
  model: string;
  query: string;
  input: string;
  topN?: number;
  threshold?: number;
  backend?: 'onnx' | 'native';
  device: string;
  activation?: string;
  maxLength?: number;
  batchTokens?: number;
  truncation?: string;
  revision?: string;
  json?: boolean;
  instruction?: string;
  sharePrefix?: boolean;
  precision?: CudaElementType;
  onnxFile?: string;
}

export function registerRerank(program: Command): void {
  program
    .command('rerank')
    .description('score documents against a query with a cross-encoder and print them best first')
    .requiredOption('--model <id|dir>', 'hub id (org/name) or model directory')
    .requiredOption('--query <text>', 'the query')
    .requiredOption('--input <file>', 'documents: a text file (one a line), JSONL with "text", or - for stdin')
    .option('--top-n <n>', 'print only the best N', integer('--top-n', 1))
    .option('--threshold <score>', 'print only scores >= this', number('--threshold'))
    .option('--backend <name>', BACKEND_HELP)
    .option('--onnx-file <path>', ONNX_FILE_HELP)
    .option('--device <device>', 'cpu, cuda or cuda:N', 'cpu')
    .option('--activation <name>', 'none, sigmoid or softmax (default: from the model)')
    .option('--max-length <n>', 'longest pair in tokens (default: the model limit)', integer('--max-length', 4))
    .option('--batch-tokens <n>', BATCH_TOKENS_HELP, integer('--batch-tokens', 1))
    .option('--truncation <strategy>', 'longest_first or only_second', 'longest_first')
    .option('--revision <rev>', 'hub revision (branch, tag or commit)')
    .option('--instruction <text>', 'LLM rerankers: the task instruction of the prompt (default: web search)')
    .option('--no-share-prefix', "LLM rerankers: run every prompt whole instead of each query's prefix once (native engine; ONNX graphs with a key/value cache)")
    .option('--precision <type>', PRECISION_HELP, precision)
    .option('--json', 'print [{index, score, text}] as JSON')
    .action(async (o: RerankOptions) => {
      const docs = readDocuments(o.input);
      const model = await CrossEncoder.load(o.model, {
        backend: o.backend,
        onnxFile: o.onnxFile,
        device: o.device,
        activation: parseActivation(o.activation),
        maxLength: o.maxLength,
        batchTokens: o.batchTokens,
        truncation: o.truncation as 'longest_first',
        revision: o.revision,
        instruction: o.instruction,
        // Only when asked: encoders refuse the option.
        sharePrefix: o.sharePrefix === false ? false : undefined,
        precision: o.precision,
      });
      try {
        const ranked = await model.rank(o.query, docs, { topN: o.topN, threshold: o.threshold, returnDocuments: true });
        if (o.json) {
          console.log(JSON.stringify(ranked.map((r) => ({ index: r.index, score: r.score, text: r.document!.text }))));
        } else {
          ranked.forEach((r, rank) => {
            const text = r.document!.text.replace(/\s+/g, ' ');
            console.log(`${String(rank + 1).padStart(4)}  ${r.score.toFixed(6)}  #${r.index}  ${text.length > 100 ? `${text.slice(0, 97)}...` : text}`);
          });
        }
      } finally {
        await model.dispose();
      }
    });
}
