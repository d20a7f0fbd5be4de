/**
 * The first stage of the evaluation commands (eval-pipeline, mine-negatives): BM25 built over
 * the corpus in memory (default), HNSW over a bi-encoder's embeddings, both fused, or a saved
 * index (`crossrank index`).
 */
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';

import { EncoderEmbedder } from '../embedding/encoder-embedder.js';
import { InvalidArgumentError } from '../errors.js';
import { Bm25Index } from '../retrieval/bm25.js';
import { bm25FirstStage, retrieverFirstStage, type FirstStage } from '../retrieval/first-stage.js';
import { HnswRetriever } from '../retrieval/hnsw.js';
import { HybridRetriever } from '../retrieval/hybrid.js';
import type { Retriever } from '../retrieval/retriever.js';
import { SearchIndex, type RetrieverKind } from '../retrieval/search-index.js';
import { BACKEND_HELP } from './options.js';

export interface FirstStageCliOptions {
  retriever: string;
  embedder?: string;
  embedderBackend?: 'onnx' | 'native';
  index?: string;
}

export function addFirstStageOptions(command: Command): Command {
  return command
    .option('--retriever <kind>', 'first stage when no --run is given: bm25 (k1 0.9, b 0.4), hnsw or hybrid (RRF of both)', 'bm25')
    .option('--embedder <id|dir>', 'bi-encoder for --retriever hnsw/hybrid')
    .option('--embedder-backend <name>', `bi-encoder ${BACKEND_HELP}`)
    .option('--index <dir>', 'search a saved index (crossrank index) instead of indexing the corpus');
}

export async function runFirstStage(o: FirstStageCliOptions, corpus: Map<string, string>, queries: Map<string, string>, k: number): Promise<FirstStage> {
  const kind = o.retriever as RetrieverKind;
  if (!['bm25', 'hnsw', 'hybrid'].includes(kind)) throw new InvalidArgumentError(`--retriever must be bm25, hnsw or hybrid, got ${o.retriever}`);
  if (!o.index && kind === 'bm25') return bm25FirstStage(corpus, queries, k);
  let embedder: EncoderEmbedder | undefined;
  try {
    if (o.index) {
      const manifest = SearchIndex.readManifest(o.index);
      if (manifest.hnsw && kind !== 'bm25') embedder = await EncoderEmbedder.load(o.embedder ?? manifest.hnsw.embedder, { backend: o.embedderBackend });
      const index = await SearchIndex.open(o.index, { embedder });
      return await retrieverFirstStage(index.retriever(kind), queries, k);
    }
    if (!o.embedder) throw new InvalidArgumentError(`--retriever ${kind} needs --embedder <model>`);
    embedder = await EncoderEmbedder.load(o.embedder, { backend: o.embedderBackend });
    const start = performance.now();
    const docs = [...corpus].map(([id, text]) => ({ id, text }));
    const hnsw = new HnswRetriever(embedder);
    await hnsw.add(docs);
    let retriever: Retriever = hnsw;
    if (kind === 'hybrid') {
      const bm25 = new Bm25Index();
      await bm25.add(docs);
      retriever = new HybridRetriever([bm25, hnsw]);
    }
    return await retrieverFirstStage(retriever, queries, k, performance.now() - start);
  } finally {
    await embedder?.dispose();
  }
}
