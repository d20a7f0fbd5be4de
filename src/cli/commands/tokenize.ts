import type { Command } from 'commander';

import { InvalidArgumentError } from '../../errors.js';
import { modelMaxLength, readModelConfig } from '../../model/model-config.js';
import { resolveModel } from '../../hub/resolve.js';
import { createPairTokenizer, parseTruncation } from '../../tokenizer/pair-tokenizer.js';
import { readTokenizerSpec } from '../../tokenizer/tokenizer-spec.js';
import { integer } from '../options.js';
import { readJsonLines } from '../read-input.js';

export function registerTokenize(program: Command): void {
  program
    .command('tokenize')
    .description('tokenize {"query", "document"} pairs as the model sees them; prints {"ids", "type_ids"} lines')
    .requiredOption('--model <id|dir>', 'hub id or model directory (its tokenizer is used)')
    .requiredOption('--input <file>', 'JSONL, one {"query", "document"} a line, or - for stdin')
    .option('--max-length <n>', 'longest pair in tokens (default: the model limit)', integer('--max-length', 4))
    .option('--truncation <strategy>', 'longest_first or only_second', 'longest_first')
    .action(async (o: { model: string; input: string; maxLength?: number; truncation: string }) => {
      const truncation = parseTruncation(o.truncation);
      const pairs = readJsonLines(o.input, (v, line) => {
        const p = v as { query?: unknown; document?: unknown };
        if (typeof p?.query !== 'string' || typeof p?.document !== 'string') {
          throw new InvalidArgumentError(`${o.input}:${line}: each line needs string "query" and "document" fields`);
        }
        return [p.query, p.document] as const;
      });
      const { dir } = await resolveModel(o.model);
      const maxLength = o.maxLength ?? modelMaxLength(dir, readModelConfig(dir));
      const tokenizer = createPairTokenizer(readTokenizerSpec(dir));
      const index = Int32Array.from(pairs.keys());
      const enc = await tokenizer.encodePairs(pairs.map((p) => p[0]), pairs.map((p) => p[1]), index, index, { maxLength, truncation });
      const lines: string[] = [];
      for (let i = 0; i < pairs.length; i++) {
        const range = [enc.offsets[i], enc.offsets[i + 1]] as const;
        lines.push(JSON.stringify({ ids: Array.from(enc.ids.subarray(...range)), type_ids: Array.from(enc.typeIds.subarray(...range)) }));
      }
      if (lines.length) process.stdout.write(`${lines.join('\n')}\n`);
    });
}
