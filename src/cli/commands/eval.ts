import type { Command } from 'commander';

import { DEFAULT_METRICS, evaluate } from '../../eval/metrics.js';
import { readQrels, readRun } from '../../eval/trec-files.js';
import { InvalidArgumentError } from '../../errors.js';

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('score a TREC run against qrels exactly as trec_eval does')
    .requiredOption('--qrels <file>', 'TREC qrels: qid iter docid grade')
    .requiredOption('--run <file>', 'TREC run: qid Q0 docid rank score tag')
    .option('--metrics <list>', 'comma-separated trec_eval names', DEFAULT_METRICS.join(','))
    .option('--rel-level <n>', 'grade at or above which a document is relevant for binary measures (trec_eval -l)', '1')
    .option('--complete', 'count qrels queries missing from the run as 0 (trec_eval -c)')
    .option('--per-query', 'also print each query')
    .option('--json', 'print {"<metric>": value, ...} (with --per-query: {"all": {...}, "perQuery": {...}})')
    .action((o: { qrels: string; run: string; metrics: string; relLevel: string; complete?: boolean; perQuery?: boolean; json?: boolean }) => {
      if (!/^-?\d+$/.test(o.relLevel)) throw new InvalidArgumentError(`--rel-level must be an integer, got ${o.relLevel}`);
      const metrics = o.metrics.split(',').map((m) => m.trim()).filter(Boolean);
      const result = evaluate(readQrels(o.qrels), readRun(o.run), metrics, {
        relevanceLevel: Number(o.relLevel),
        complete: o.complete,
      });
      if (o.json) {
        const round = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v.toFixed(4))]));
        const all = round(result.mean);
        console.log(
          JSON.stringify(
            o.perQuery ? { all, perQuery: Object.fromEntries([...result.perQuery].map(([q, r]) => [q, round(r)])) } : all,
            null,
            2,
          ),
        );
        return;
      }
      // trec_eval's layout: measure, query (or "all"), value.
      const lines: string[] = [];
      if (o.perQuery) {
        for (const [qid, values] of result.perQuery) for (const m of metrics) lines.push(`${m.padEnd(22)}\t${qid}\t${values[m].toFixed(4)}`);
      }
      lines.push(`${'num_q'.padEnd(22)}\tall\t${result.queries}`);
      for (const m of metrics) lines.push(`${m.padEnd(22)}\tall\t${result.mean[m].toFixed(4)}`);
      console.log(lines.join('\n'));
    });
}
