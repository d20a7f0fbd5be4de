/**
 * A TREC run replayed as a retriever, for evaluating later stages on a fixed first stage.
 * The query is looked up by its text (through queries.tsv) or directly by query id; a query
 * the run does not have returns nothing.
 */
import { basename } from 'node:path';

import { trecOrder } from '../eval/metrics.js';
import { readQueries, readRun, type Run } from '../eval/trec-files.js';
import { checkK, type RetrieveOptions, type Retriever, type ScoredId } from './retriever.js';

export class RunRetriever implements Retriever {
  readonly name: string;
  readonly #lists = new Map<string, ScoredId[]>();
  readonly #qidByText = new Map<string, string>();

  /** `queries`: qid -> query text, so that a query's text finds its ranked list. */
  constructor(run: Run, options: { queries?: Map<string, string>; name?: string } = {}) {
    this.name = options.name ?? 'run';
    for (const [qid, entries] of run) this.#lists.set(qid, trecOrder(entries).map((e) => ({ id: e.docid, score: e.score })));
    for (const [qid, text] of options.queries ?? []) this.#qidByText.set(text, qid);
  }

  static fromFiles(runPath: string, queriesPath?: string): RunRetriever {
    return new RunRetriever(readRun(runPath), { queries: queriesPath ? readQueries(queriesPath) : undefined, name: `run:${basename(runPath)}` });
  }

  /** The query id a query text (or id) resolves to, if the run has it. */
  queryId(query: string): string | undefined {
    const qid = this.#qidByText.get(query) ?? query;
    return this.#lists.has(qid) ? qid : undefined;
  }

  async retrieve(query: string, k: number, options: RetrieveOptions = {}): Promise<ScoredId[]> {
    checkK(k);
    const qid = this.queryId(query);
    const list = qid === undefined ? [] : this.#lists.get(qid)!;
    const accept = options.accept;
    return (accept ? list.filter((e) => accept(e.id)) : list).slice(0, k).map((e) => ({ ...e }));
  }
}
