/**
 * Calibration profiles: a fitted calibrator saved as JSON with what it was fitted for (the
 * model id, revision and head), its held-out quality, and decision thresholds.
 */
import { readFileSync, writeFileSync } from 'node:fs';

import { InvalidArgumentError } from '../errors.js';
import {
  brierScore,
  calibrate,
  expectedCalibrationError,
  fitCalibrator,
  labelledScores,
  thresholdFor,
  uncalibratedProbabilities,
  type CalibrationMethod,
  type Calibrator,
} from './calibration.js';
import { hashString } from '../util/rng.js';
import type { Qrels, Run } from './trec-files.js';

export interface CalibrationProfile {
  crossrankCalibration: 1;
  calibrator: Calibrator;
  /** What produced the scores it was fitted on, when known. */
  model: { id: string; revision?: string; activation?: string } | null;
  relevanceLevel: number;
  fit: { queries: number; pairs: number };
  heldOut: { queries: number; pairs: number; eceBefore: number; eceAfter: number; brierBefore: number; brierAfter: number } | null;
  /** Lowest calibrated probability reaching each target on the held-out data (null: unreachable). */
  thresholds: Record<string, number | null>;
}

/** Deterministic query split: a query is held out when its hash falls under `fraction`. */
export const isHeldOut = (qid: string, fraction: number) => hashString(qid) / 2 ** 32 < fraction;

export function fitProfile(
  run: Run,
  qrels: Qrels,
  options: {
    method: CalibrationMethod;
    relevanceLevel?: number;
    holdout?: number;
    model?: CalibrationProfile['model'];
    /** Target precisions and recalls to find thresholds for (default 0.5, 0.8, 0.9 each). */
    targetPrecision?: number[];
    targetRecall?: number[];
  },
): CalibrationProfile {
  const level = options.relevanceLevel ?? 1;
  const holdout = options.holdout ?? 0.3;
  if (!(holdout >= 0 && holdout < 1)) throw new InvalidArgumentError(`holdout must be in [0, 1), got ${holdout}`);
  const queries = [...run.keys()].filter((q) => qrels.has(q));
  const train = labelledScores(run, qrels, level, (q) => !isHeldOut(q, holdout));
  const test = labelledScores(run, qrels, level, (q) => isHeldOut(q, holdout));
  const calibrator = fitCalibrator(train, options.method);
  const evalSet = test.scores.length > 0 ? test : train;
  const before = uncalibratedProbabilities(evalSet.scores);
  const after = Float64Array.from(evalSet.scores, (s) => calibrate(calibrator, s));
  const heldOutQueries = queries.filter((q) => isHeldOut(q, holdout)).length;
  const thresholds: Record<string, number | null> = {};
  for (const [kind, targets] of [
    ['precision', options.targetPrecision ?? [0.5, 0.8, 0.9]],
    ['recall', options.targetRecall ?? [0.5, 0.8, 0.9]],
  ] as const) {
    for (const target of targets) {
      if (!(target > 0 && target <= 1)) throw new InvalidArgumentError(`target ${kind} must be in (0, 1], got ${target}`);
      thresholds[`${kind}>=${target}`] = thresholdFor(after, evalSet.labels, target, kind);
    }
  }
  return {
    crossrankCalibration: 1,
    calibrator,
    model: options.model ?? null,
    relevanceLevel: level,
    fit: { queries: queries.length - heldOutQueries, pairs: train.scores.length },
    heldOut:
      test.scores.length > 0
        ? {
            queries: heldOutQueries,
            pairs: test.scores.length,
            eceBefore: expectedCalibrationError(before, evalSet.labels),
            eceAfter: expectedCalibrationError(after, evalSet.labels),
            brierBefore: brierScore(before, evalSet.labels),
            brierAfter: brierScore(after, evalSet.labels),
          }
        : null,
    thresholds,
  };
}

export function saveProfile(path: string, profile: CalibrationProfile): void {
  writeFileSync(path, `${JSON.stringify(profile, null, 2)}\n`);
}

export function loadProfile(path: string): CalibrationProfile {
  let profile: CalibrationProfile;
  try {
    profile = JSON.parse(readFileSync(path, 'utf8')) as CalibrationProfile;
  } catch (error) {
    throw new InvalidArgumentError(`cannot read calibration profile ${path}: ${(error as Error).message}`);
  }
  const c = profile?.calibrator;
  const valid =
    profile?.crossrankCalibration === 1 &&
    c &&
    ((c.method === 'platt' && Number.isFinite(c.a) && Number.isFinite(c.b)) ||
      (c.method === 'temperature' && c.temperature > 0) ||
      (c.method === 'isotonic' && Array.isArray(c.x) && c.x.length > 0 && c.x.length === c.y?.length));
  if (!valid) throw new InvalidArgumentError(`${path} is not a crossrank calibration profile`);
  return profile;
}

/** The run with each score replaced by its calibrated probability (order kept). */
export function applyProfile(run: Run, profile: CalibrationProfile): Run {
  const out: Run = new Map();
  for (const [qid, entries] of run) out.set(qid, entries.map((e) => ({ docid: e.docid, score: calibrate(profile.calibrator, e.score) })));
  return out;
}
