import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';

import { calibrationMethods, type CalibrationMethod } from '../../eval/calibration.js';
import { applyProfile, fitProfile, loadProfile, saveProfile } from '../../eval/calibration-profile.js';
import { formatRun, readQrels, readRun } from '../../eval/trec-files.js';
import { InvalidArgumentError } from '../../errors.js';
import { parseActivation } from '../../model/head.js';
import { number } from '../options.js';

interface CalibrateOptions {
  qrels?: string;
  run: string;
  method: string;
  out: string;
  relLevel: string;
  holdout: number;
  apply?: string;
  model?: string;
  modelRevision?: string;
  activation?: string;
  json?: boolean;
  targetPrecision?: number[];
  targetRecall?: number[];
}

const fractions = (name: string) => (value: string): number[] =>
  value.split(',').map((v) => {
    const n = Number(v);
    if (!(n > 0 && n <= 1)) throw new InvalidArgumentError(`${name} takes fractions in (0, 1], got ${JSON.stringify(v)}`);
    return n;
  });

export function registerCalibrate(program: Command): void {
  program
    .command('calibrate')
    .description('fit a score calibration (platt, temperature, isotonic) on a run + qrels, or apply one to a run')
    .requiredOption('--run <file>', 'TREC run whose scores are calibrated')
    .requiredOption('--out <file>', 'the profile (fit) or the calibrated run (--apply)')
    .option('--qrels <file>', 'TREC qrels (to fit)')
    .option('--method <name>', calibrationMethods.join(', '), 'platt')
    .option('--rel-level <n>', 'grade at or above which a document counts as relevant', '1')
    .option('--holdout <fraction>', 'share of queries held out to measure ECE and Brier', number('--holdout'), 0.3)
    .option('--model <id>', 'model id the scores come from (stored in the profile)')
    .option('--model-revision <rev>', 'its revision (stored in the profile)')
    .option('--activation <name>', 'the head activation that produced the scores: none, sigmoid or softmax')
    .option('--target-precision <list>', 'thresholds reaching these precisions, e.g. 0.9,0.95', fractions('--target-precision'))
    .option('--target-recall <list>', 'thresholds reaching these recalls', fractions('--target-recall'))
    .option('--apply <profile>', 'apply this profile to --run instead of fitting')
    .option('--json', 'print the fit summary as JSON')
    .action((o: CalibrateOptions) => {
      const run = readRun(o.run);
      if (o.apply) {
        const profile = loadProfile(o.apply);
        writeFileSync(o.out, formatRun(applyProfile(run, profile), `calibrated-${profile.calibrator.method}`));
        return;
      }
      if (!o.qrels) throw new InvalidArgumentError('--qrels is required to fit a calibration (or pass --apply)');
      if (!/^-?\d+$/.test(o.relLevel)) throw new InvalidArgumentError(`--rel-level must be an integer, got ${o.relLevel}`);
      const profile = fitProfile(run, readQrels(o.qrels), {
        method: o.method as CalibrationMethod,
        relevanceLevel: Number(o.relLevel),
        holdout: o.holdout,
        model: o.model ? { id: o.model, revision: o.modelRevision, activation: parseActivation(o.activation) } : null,
        targetPrecision: o.targetPrecision,
        targetRecall: o.targetRecall,
      });
      saveProfile(o.out, profile);
      const h = profile.heldOut;
      if (o.json) console.log(JSON.stringify({ heldOut: h, thresholds: profile.thresholds }, null, 2));
      else if (h) {
        console.log(`${profile.calibrator.method}: fitted on ${profile.fit.queries} queries (${profile.fit.pairs} pairs), held out ${h.queries} (${h.pairs} pairs)`);
        console.log(`ECE   ${h.eceBefore.toFixed(4)} -> ${h.eceAfter.toFixed(4)}`);
        console.log(`Brier ${h.brierBefore.toFixed(4)} -> ${h.brierAfter.toFixed(4)}`);
      }
      if (!o.json) {
        for (const [target, threshold] of Object.entries(profile.thresholds)) {
          console.log(`threshold for ${target}: ${threshold === null ? 'not reachable' : threshold.toFixed(4)}`);
        }
      }
    });
}
