import type { Command } from 'commander';

import { formatRun, readRun } from '../../eval/trec-files.js';
import { InvalidArgumentError } from '../../errors.js';
import { fuseRuns, type FusionMethod } from '../../retrieval/fusion.js';
import { writeFileAtomic } from '../../util/atomic-write.js';
import { integer, number } from '../options.js';

export function registerFuse(program: Command): void {
  program
    .command('fuse')
    .description('fuse several TREC runs into one (reciprocal-rank or normalised weighted fusion)')
    .requiredOption('--runs <files...>', 'two or more TREC runs')
    .option('--method <name>', "'rrf' (reciprocal rank) or 'weighted' (min-max normalised scores)", 'rrf')
    .option('--k <n>', 'RRF constant', number('--k'), 60)
    .option('--weights <list>', 'comma-separated weights, one per run (default: all 1)')
    .option('--top-k <n>', 'keep the best N per query (0: all)', integer('--top-k', 0), 100)
    .option('--tag <tag>', 'run tag written in the last column', 'crossrank-fused')
    .option('--out <file>', 'write the fused run here (default: standard output)')
    .action((o: { runs: string[]; method: string; k: number; weights?: string; topK: number; tag: string; out?: string }) => {
      if (o.runs.length < 2) throw new InvalidArgumentError('--runs needs at least two run files');
      const weights = o.weights?.split(',').map((w, i) => number(`--weights[${i}]`)(w.trim()));
      const fused = fuseRuns(o.runs.map(readRun), { method: o.method as FusionMethod, k: o.k, weights, topK: o.topK || undefined });
      const text = formatRun(fused, o.tag);
      if (o.out) writeFileAtomic(o.out, text);
      else process.stdout.write(text);
    });
}
