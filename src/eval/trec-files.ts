/** TREC qrels and run files, and queries.tsv. */
import { readFileSync } from 'node:fs';

import { InvalidArgumentError } from '../errors.js';

/** qid -> docid -> grade */
export type Qrels = Map<string, Map<string, number>>;

export interface RunEntry {
  docid: string;
  score: number;
}
/** qid -> retrieved documents (file order) */
export type Run = Map<string, RunEntry[]>;

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidArgumentError(`cannot read ${what} ${path}: ${(error as Error).message}`);
  }
}

/** `qid iter docid grade` per line. */
export function parseQrels(text: string, source = 'qrels'): Qrels {
  const qrels: Qrels = new Map();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const f = line.trim().split(/\s+/);
    const grade = Number(f[3]);
    if (f.length !== 4 || !Number.isInteger(grade)) {
      throw new InvalidArgumentError(`${source}:${i + 1}: expected "qid iter docid grade", got ${JSON.stringify(line)}`);
    }
    if (!qrels.has(f[0])) qrels.set(f[0], new Map());
    qrels.get(f[0])!.set(f[2], grade);
  });
  return qrels;
}

/** `qid Q0 docid rank score tag` per line; a document twice for one query is an error (as trec_eval). */
export function parseRun(text: string, source = 'run'): Run {
  const run: Run = new Map();
  const seen = new Map<string, Set<string>>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const f = line.trim().split(/\s+/);
    const score = Number(f[4]);
    if (f.length < 6 || !Number.isFinite(score)) {
      throw new InvalidArgumentError(`${source}:${i + 1}: expected "qid Q0 docid rank score tag", got ${JSON.stringify(line)}`);
    }
    const [qid, , docid] = f;
    if (!run.has(qid)) run.set(qid, []), seen.set(qid, new Set());
    if (seen.get(qid)!.has(docid)) throw new InvalidArgumentError(`${source}:${i + 1}: document ${docid} appears twice for query ${qid}`);
    seen.get(qid)!.add(docid);
    run.get(qid)!.push({ docid, score });
  });
  return run;
}

export const readQrels = (path: string) => parseQrels(readText(path, 'qrels'), path);
export const readRun = (path: string) => parseRun(readText(path, 'run'), path);

/** `qid<TAB>text` per line. */
export function readQueries(path: string): Map<string, string> {
  const out = new Map<string, string>();
  readText(path, 'queries').split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const tab = line.indexOf('\t');
    if (tab < 0) throw new InvalidArgumentError(`${path}:${i + 1}: expected "qid<TAB>query"`);
    out.set(line.slice(0, tab), line.slice(tab + 1));
  });
  return out;
}

/** Writes a run in TREC format, ranks from 1 in the given order. */
export function formatRun(run: Run, tag: string): string {
  const lines: string[] = [];
  for (const [qid, entries] of run) entries.forEach((e, i) => lines.push(`${qid} Q0 ${e.docid} ${i + 1} ${e.score} ${tag}`));
  return lines.length ? `${lines.join('\n')}\n` : '';
}
