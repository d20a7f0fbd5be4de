/**
 * crossrank as a LlamaIndex.TS node postprocessor: reranks retrieved nodes by their text.
 *
 *   import { CrossrankRerank } from 'crossrank/llamaindex';
 *   const rerank = await CrossrankRerank.load('cross-encoder/ms-marco-MiniLM-L-6-v2', { topN: 5 });
 *   const queryEngine = index.asQueryEngine({ nodePostprocessors: [rerank] });
 *
 * Implements `BaseNodePostprocessor` of `@llamaindex/core` (a peer dependency of this subpath
 * only). Scores replace the nodes' retrieval scores; nodes come back best first.
 */
import type { BaseNodePostprocessor } from '@llamaindex/core/postprocessor';
import type { MessageContent } from '@llamaindex/core/llms';
import { MetadataMode, type NodeWithScore } from '@llamaindex/core/schema';

import { CrossEncoder, type CrossEncoderOptions } from '../cross-encoder.js';
import { InvalidArgumentError } from '../errors.js';

export interface CrossrankRerankOptions {
  /** Keep the best N (default 3). */
  topN?: number;
}

/** The text of a query that may be multi-part content (text parts joined, images skipped). */
function queryText(query: MessageContent | undefined): string {
  if (query === undefined) throw new InvalidArgumentError('CrossrankRerank needs the query to rerank against');
  if (typeof query === 'string') return query;
  return query.map((part) => ('text' in part && typeof part.text === 'string' ? part.text : '')).filter(Boolean).join('\n');
}

export class CrossrankRerank implements BaseNodePostprocessor {
  readonly model: CrossEncoder;
  readonly topN: number;

  constructor(model: CrossEncoder, options: CrossrankRerankOptions = {}) {
    const topN = options.topN ?? 3;
    if (!Number.isInteger(topN) || topN < 1) throw new InvalidArgumentError(`topN must be a positive integer, got ${topN}`);
    this.model = model;
    this.topN = topN;
  }

  static async load(model: string, options: CrossrankRerankOptions & CrossEncoderOptions = {}): Promise<CrossrankRerank> {
    return new CrossrankRerank(await CrossEncoder.load(model, options), options);
  }

  async postprocessNodes(nodes: NodeWithScore[], query?: MessageContent): Promise<NodeWithScore[]> {
    if (nodes.length === 0) return [];
    const texts = nodes.map((n) => n.node.getContent(MetadataMode.NONE));
    const ranked = await this.model.rank(queryText(query), texts, { topN: this.topN });
    return ranked.map((r) => ({ node: nodes[r.index].node, score: r.score }));
  }
}
