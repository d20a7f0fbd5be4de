import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';

import { EncoderEmbedder } from '../../embedding/encoder-embedder.js';
import { InvalidArgumentError } from '../../errors.js';
import { readDocumentsJsonl } from '../../retrieval/document-store.js';
import { MANIFEST_FILE, SearchIndex } from '../../retrieval/search-index.js';
import { BACKEND_HELP, integer, number } from '../options.js';
import { progressLine } from '../progress.js';

interface IndexOptions {
  input: string;
  out: string;
  bm25?: boolean;
  hnsw?: boolean;
  embedder?: string;
  embedderBackend?: 'onnx' | 'native';
  k1: number;
  b: number;
  m: number;
  efConstruction: number;
  append?: boolean;
  force?: boolean;
  batchSize: number;
  json?: boolean;
}

function directorySize(dir: string): number {
  return readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
}

export function registerIndex(program: Command): void {
  program
    .command('index')
    .description('build (or extend) a search index from JSONL documents: BM25, HNSW over embeddings, or both')
    .requiredOption('--input <file>', 'JSONL, one document a line: {"id", "text", "title"?, ...metadata}')
    .requiredOption('--out <dir>', 'index directory')
    .option('--bm25', 'build a BM25 index (the default when neither --bm25 nor --hnsw is given)')
    .option('--hnsw', 'build an HNSW index over embeddings (needs --embedder)')
    .option('--embedder <id|dir>', 'bi-encoder (sentence-transformers layout) for --hnsw')
    .option('--embedder-backend <name>', `bi-encoder ${BACKEND_HELP}`)
    .option('--k1 <n>', 'BM25 k1', number('--k1'), 0.9)
    .option('--b <n>', 'BM25 b', number('--b'), 0.4)
    .option('--m <n>', 'HNSW graph degree', integer('--m', 2), 16)
    .option('--ef-construction <n>', 'HNSW build candidate list', integer('--ef-construction', 2), 200)
    .option('--append', 'add to (or update) an existing index instead of building a new one')
    .option('--force', 'replace an existing index')
    .option('--batch-size <n>', 'documents read per batch', integer('--batch-size', 1), 1000)
    .option('--json', 'print the summary as JSON')
    .action(async (o: IndexOptions) => {
      if (!existsSync(o.input)) throw new InvalidArgumentError(`cannot read ${o.input}: no such file`);
      const exists = existsSync(join(o.out, MANIFEST_FILE));
      if (exists && !o.append && !o.force) throw new InvalidArgumentError(`${o.out} already holds an index; pass --append to add documents or --force to rebuild it`);
      if (!exists && existsSync(o.out) && readdirSync(o.out).length > 0 && !o.force) {
        throw new InvalidArgumentError(`${o.out} exists and is not an index; choose an empty or new directory (or --force)`);
      }
      if (o.hnsw && !o.embedder && !(o.append && exists)) throw new InvalidArgumentError('--hnsw needs --embedder <model>');
      const start = performance.now();
      let index: SearchIndex;
      let embedder: EncoderEmbedder | undefined;
      if (o.append && exists) {
        const manifest = SearchIndex.readManifest(o.out);
        if (manifest.hnsw) embedder = await EncoderEmbedder.load(o.embedder ?? manifest.hnsw.embedder, { backend: o.embedderBackend });
        index = await SearchIndex.open(o.out, { embedder });
      } else {
        if (o.force && existsSync(o.out)) rmSync(o.out, { recursive: true, force: true });
        if (o.embedder) embedder = await EncoderEmbedder.load(o.embedder, { backend: o.embedderBackend });
        index = SearchIndex.create(o.out, {
          bm25: o.bm25 || !o.hnsw ? { k1: o.k1, b: o.b } : false,
          hnsw: o.hnsw ? { embedder: embedder!, embedderName: o.embedder!, m: o.m, efConstruction: o.efConstruction } : undefined,
        });
      }
      const before = index.size;
      const total = statSync(o.input).size || 1;
      const progress = progressLine(`indexing ${o.input}`);
      let replaced = 0;
      try {
        const read = await readDocumentsJsonl(
          o.input,
          async (batch, bytes) => {
            replaced += await index.add(batch);
            progress.update(bytes / total, `${index.size} documents`);
          },
          o.batchSize,
        );
        progress.update(1, 'saving');
        await index.save();
        progress.done();
        const summary = {
          out: o.out,
          documents: index.size,
          added: index.size - before,
          replaced,
          read: read.documents,
          parts: [index.bm25 ? 'bm25' : null, index.hnsw ? 'hnsw' : null].filter(Boolean),
          seconds: Number(((performance.now() - start) / 1000).toFixed(2)),
          bytes: directorySize(o.out),
        };
        if (o.json) console.log(JSON.stringify(summary, null, 2));
        else {
          console.error(
            `indexed ${summary.read} documents into ${o.out} (${summary.parts.join(' + ')}): ${summary.documents} in the index, ` +
              `${(summary.bytes / 1e6).toFixed(1)} MB, ${summary.seconds} s`,
          );
        }
        if (replaced > 0) {
          console.error(`note: ${replaced} document id(s) were already indexed or repeated in the input; the later document replaced the earlier`);
        }
      } finally {
        progress.done();
        await embedder?.dispose();
      }
    });
}
