/**
 * The framework plug-ins against the real packages: a LangChain.js document compressor
 * (@langchain/core) and a LlamaIndex.TS node postprocessor (@llamaindex/core), loaded through
 * the package's subpath exports (crossrank/langchain, crossrank/llamaindex).
 */
import { join } from 'node:path';
import { Document } from '@langchain/core/documents';
import { BaseDocumentCompressor } from '@langchain/core/retrievers/document_compressors';
import type { BaseNodePostprocessor } from '@llamaindex/core/postprocessor';
import { TextNode } from '@llamaindex/core/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CrossEncoder } from '../../src/cross-encoder.js';
import { makeModel } from '../../src/model/make-model.js';
import { bertTokenizerDir, tempDir } from '../helpers.js';

const dir = tempDir();
const modelDir = join(dir.path, 'tiny');
const texts = ['the cat sat on the mat', 'quantum chromodynamics', 'cats purr when they are happy', 'a dog barks at night'];
let reference: CrossEncoder;
let expectedOrder: number[];

beforeAll(async () => {
  makeModel({ preset: 'tiny', seed: 8, out: modelDir, tokenizer: bertTokenizerDir });
  reference = await CrossEncoder.load(modelDir);
  expectedOrder = (await reference.rank('why do cats purr', texts)).map((r) => r.index);
});
afterAll(async () => {
  await reference.dispose();
  dir.cleanup();
});

describe('crossrank/langchain', () => {
  it('is a BaseDocumentCompressor that keeps the best documents, scored, without touching the input', async () => {
    const { CrossrankCompressor } = await import('crossrank/langchain');
    const compressor = await CrossrankCompressor.load(modelDir, { topN: 2 });
    try {
      expect(BaseDocumentCompressor.isBaseDocumentCompressor(compressor)).toBe(true);
      const docs = texts.map((pageContent, i) => new Document({ pageContent, metadata: { source: `doc-${i}` } }));
      const out = await compressor.compressDocuments(docs, 'why do cats purr');
      expect(out.map((d) => d.pageContent)).toEqual(expectedOrder.slice(0, 2).map((i) => texts[i]));
      expect(out[0].metadata.source).toBe(`doc-${expectedOrder[0]}`);
      expect(out[0].metadata.relevanceScore).toBeGreaterThanOrEqual(out[1].metadata.relevanceScore);
      expect(docs[0].metadata).toEqual({ source: 'doc-0' }); // the input is not modified
      expect(await compressor.compressDocuments([], 'q')).toEqual([]);
    } finally {
      await compressor.model.dispose();
    }
  });
});

describe('crossrank/llamaindex', () => {
  it('is a BaseNodePostprocessor that reorders nodes by cross-encoder score', async () => {
    const { CrossrankRerank } = await import('crossrank/llamaindex');
    const rerank: BaseNodePostprocessor = await CrossrankRerank.load(modelDir, { topN: 3 });
    try {
      const nodes = texts.map((text, i) => ({ node: new TextNode({ text, id_: `n${i}` }), score: 1 - i / 10 }));
      const out = await rerank.postprocessNodes(nodes, 'why do cats purr');
      expect(out.map((n) => n.node.id_)).toEqual(expectedOrder.slice(0, 3).map((i) => `n${i}`));
      const scores = out.map((n) => n.score!);
      expect([...scores].sort((a, b) => b - a)).toEqual(scores);
      // Multi-part message content: the text parts are the query.
      const parts = await rerank.postprocessNodes(nodes, [{ type: 'text', text: 'why do cats purr' }]);
      expect(parts.map((n) => n.node.id_)).toEqual(out.map((n) => n.node.id_));
      await expect(rerank.postprocessNodes(nodes)).rejects.toThrow(/needs the query/);
    } finally {
      await (rerank as unknown as { model: CrossEncoder }).model.dispose();
    }
  });
});
