/**
 * crossrank as a LangChain.js document compressor: reranks the documents a retriever found
 * and keeps the best.
 *
 *   import { CrossrankCompressor } from 'crossrank/langchain';
 *   const compressor = await CrossrankCompressor.load('cross-encoder/ms-marco-MiniLM-L-6-v2', { topN: 5 });
 *   const retriever = new ContextualCompressionRetriever({ baseCompressor: compressor, baseRetriever });
 *
 * `@langchain/core` is a peer dependency of this subpath only: the rest of crossrank never
 * loads it. Each returned document is a copy with `metadata.relevanceScore` set.
 */
import { BaseDocumentCompressor } from '@langchain/core/retrievers/document_compressors';
import type { DocumentInterface } from '@langchain/core/documents';

import { CrossEncoder, type CrossEncoderOptions } from '../cross-encoder.js';
import { InvalidArgumentError } from '../errors.js';

export interface CrossrankCompressorOptions {
  /** Keep the best N (default 3). */
  topN?: number;
  /** Keep only documents scoring at least this. */
  threshold?: number;
}

export class CrossrankCompressor extends BaseDocumentCompressor {
  readonly model: CrossEncoder;
  readonly topN: number;
  readonly threshold: number | undefined;

  constructor(model: CrossEncoder, options: CrossrankCompressorOptions = {}) {
    super();
    const topN = options.topN ?? 3;
    if (!Number.isInteger(topN) || topN < 1) throw new InvalidArgumentError(`topN must be a positive integer, got ${topN}`);
    this.model = model;
    this.topN = topN;
    this.threshold = options.threshold;
  }

  static async load(model: string, options: CrossrankCompressorOptions & CrossEncoderOptions = {}): Promise<CrossrankCompressor> {
    return new CrossrankCompressor(await CrossEncoder.load(model, options), options);
  }

  async compressDocuments(documents: DocumentInterface[], query: string): Promise<DocumentInterface[]> {
    if (documents.length === 0) return [];
    const ranked = await this.model.rank(query, documents.map((d) => d.pageContent), { topN: this.topN, threshold: this.threshold });
    return ranked.map((r) => {
      const d = documents[r.index];
      // A copy: the caller's documents stay as they were.
      return { ...d, metadata: { ...d.metadata, relevanceScore: r.score } } as DocumentInterface;
    });
  }
}
