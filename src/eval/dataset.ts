/**
 * Evaluation datasets from a folder, in either layout:
 *   crossrank/TREC: queries.tsv, qrels.txt, docs.jsonl or passages.jsonl, runs/*.trec
 *   BEIR:           corpus.jsonl, queries.jsonl, qrels/test.tsv (query-id corpus-id score, with a header)
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { InvalidArgumentError } from '../errors.js';
import { documentText, readCorpus } from './corpus.js';
import { parseQrels, readQrels, readQueries, type Qrels } from './trec-files.js';

export interface Dataset {
  queries: Map<string, string>;
  qrels: Qrels;
  /** id -> text (title joined in front). */
  corpus: Map<string, string>;
  layout: 'trec' | 'beir';
}

function beirQueries(path: string): Map<string, string> {
  const out = new Map<string, string>();
  readFileSync(path, 'utf8').split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    const q = JSON.parse(line) as { _id?: unknown; text?: unknown };
    if (q._id === undefined || typeof q.text !== 'string') throw new InvalidArgumentError(`${path}:${i + 1}: needs "_id" and "text"`);
    out.set(String(q._id), q.text);
  });
  return out;
}

function beirQrels(path: string): Qrels {
  const lines = readFileSync(path, 'utf8').split(/\r?\n/).filter((l) => l.trim());
  const body = /^query-id\s/i.test(lines[0] ?? '') ? lines.slice(1) : lines;
  return parseQrels(body.map((l) => { const [q, d, g] = l.split(/\t|\s+/); return `${q} 0 ${d} ${g}`; }).join('\n'), path);
}

export async function loadDataset(dir: string, split = 'test'): Promise<Dataset> {
  const has = (f: string) => existsSync(join(dir, f));
  if (has('corpus.jsonl') && has('queries.jsonl')) {
    const qrelsPath = join(dir, 'qrels', `${split}.tsv`);
    if (!existsSync(qrelsPath)) throw new InvalidArgumentError(`${dir}: BEIR folder without qrels/${split}.tsv`);
    const corpus = await readCorpus(join(dir, 'corpus.jsonl'));
    return {
      queries: beirQueries(join(dir, 'queries.jsonl')),
      qrels: beirQrels(qrelsPath),
      corpus: new Map([...corpus].map(([id, d]) => [id, documentText(d)])),
      layout: 'beir',
    };
  }
  const docs = ['docs.jsonl', 'passages.jsonl', 'corpus.jsonl'].find(has);
  if (!has('queries.tsv') || !has('qrels.txt') || !docs) {
    throw new InvalidArgumentError(
      `${dir} is not a dataset folder: expected queries.tsv, qrels.txt and docs.jsonl/passages.jsonl, or a BEIR folder`,
    );
  }
  const corpus = await readCorpus(join(dir, docs));
  return {
    queries: readQueries(join(dir, 'queries.tsv')),
    qrels: readQrels(join(dir, 'qrels.txt')),
    corpus: new Map([...corpus].map(([id, d]) => [id, documentText(d)])),
    layout: 'trec',
  };
}
