import type { Command } from 'commander';

import { EncoderEmbedder } from '../../embedding/encoder-embedder.js';
import { InvalidArgumentError } from '../../errors.js';
import type { CudaElementType } from '../../native/binding.js';
import { Pipeline } from '../../pipeline/pipeline.js';
import { SearchIndex } from '../../retrieval/search-index.js';
// The server (and fastify under it) loads when `serve` runs, not with every command.
import type { ModelSpec, RerankServer } from '../../server/server.js';
import { defaultLimits } from '../../server/validate.js';
import { BACKEND_HELP, BATCH_TOKENS_HELP, integer, number, ONNX_FILE_HELP, precision, PRECISION_HELP } from '../options.js';

interface ServeOptions {
  model: string[];
  port: number;
  host: string;
  backend?: 'onnx' | 'native';
  onnxFile?: string;
  device: string;
  precision?: CudaElementType;
  batchTokens?: number;
  maxWaitMs: number;
  index?: string;
  candidates: number;
  topN: number;
  budgetMs?: number;
  maxBodyBytes: number;
  maxDocuments: number;
  maxDocumentChars: number;
  maxQueued: number;
  timeoutMs: number;
  log?: boolean;
}

/** `--model dir` or `--model name=dir`; an unnamed model is named after its source. */
export function parseModelSpecs(values: string[]): ModelSpec[] {
  return values.map((v) => {
    const eq = v.indexOf('=');
    // "org/name=..." is a name; a hub id or path never contains "=".
    return eq > 0 ? { name: v.slice(0, eq), source: v.slice(eq + 1) } : { name: v, source: v };
  });
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve rerankers over HTTP: Cohere/Jina (/v1/rerank, /v2/rerank), TEI (/rerank), /search, /health, /metrics')
    .option('--model <id|dir|name=id|dir>', 'a cross-encoder to serve (repeat for several; the first is the default)', (v: string, all: string[]) => [...all, v], [])
    .option('--port <n>', 'port', integer('--port', 0), 8080)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--backend <name>', BACKEND_HELP)
    .option('--onnx-file <path>', ONNX_FILE_HELP)
    .option('--device <device>', 'cpu, cuda or cuda:N', 'cpu')
    .option('--precision <type>', PRECISION_HELP, precision)
    .option('--batch-tokens <n>', BATCH_TOKENS_HELP, integer('--batch-tokens', 1))
    .option('--max-wait-ms <n>', 'how long a request waits for others to share its batch', number('--max-wait-ms'), 2)
    .option('--index <dir>', 'serve POST /search over this index (crossrank index), reranked by the first model')
    .option('--candidates <n>', '/search: stage-1 candidates', integer('--candidates', 1), 100)
    .option('--top-n <n>', '/search: results', integer('--top-n', 1), 10)
    .option('--budget-ms <n>', '/search: latency budget', number('--budget-ms'))
    .option('--max-body-bytes <n>', 'request body limit (413 above)', integer('--max-body-bytes', 1), defaultLimits.maxBodyBytes)
    .option('--max-documents <n>', 'documents per request (413 above)', integer('--max-documents', 1), defaultLimits.maxDocuments)
    .option('--max-document-chars <n>', 'characters per document (413 above)', integer('--max-document-chars', 1), defaultLimits.maxDocumentChars)
    .option('--max-queued <n>', 'requests admitted at once (429 above)', integer('--max-queued', 1), defaultLimits.maxQueuedRequests)
    .option('--timeout-ms <n>', 'longest (and default) request deadline', integer('--timeout-ms', 1), defaultLimits.requestTimeoutMs)
    .option('--log', 'log every request (JSON lines on stdout)')
    .action(async (o: ServeOptions) => {
      if (o.model.length === 0 && !o.index) throw new InvalidArgumentError('give at least one --model (and/or --index)');
      const models = parseModelSpecs(o.model).map((m) => ({
        ...m,
        options: { backend: o.backend, onnxFile: o.onnxFile, device: o.device, precision: o.precision, batchTokens: o.batchTokens, maxWaitMs: o.maxWaitMs },
      }));
      let embedder: EncoderEmbedder | undefined;
      const { RerankServer } = await import('../../server/server.js');
      const server: RerankServer = new RerankServer({
        models,
        logger: o.log ?? false,
        limits: {
          maxBodyBytes: o.maxBodyBytes, maxDocuments: o.maxDocuments, maxDocumentChars: o.maxDocumentChars,
          maxQueuedRequests: o.maxQueued, requestTimeoutMs: o.timeoutMs,
        },
        pipeline: o.index
          ? async (loaded) => {
              const manifest = SearchIndex.readManifest(o.index!);
              if (manifest.hnsw) embedder = await EncoderEmbedder.load(manifest.hnsw.embedder);
              const index = await SearchIndex.open(o.index!, { embedder });
              const reranker = models.length ? loaded.get(models[0].name) : undefined;
              return new Pipeline({ retriever: index.retriever(), reranker, documents: index.documents, candidates: o.candidates, topN: o.topN, budgetMs: o.budgetMs });
            }
          : undefined,
      });
      const address = await server.listen(o.port, o.host);
      console.error(`crossrank serve: listening on ${address} (loading ${models.map((m) => m.name).join(', ') || 'the index'})`);
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        console.error(`crossrank serve: ${signal}, finishing requests in flight`);
        void server.close().then(async () => {
          await embedder?.dispose();
          console.error('crossrank serve: stopped');
          process.exit(0);
        });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
      try {
        await server.load();
        console.error('crossrank serve: ready');
      } catch (error) {
        // Keep serving /health (503 with the reason) so that an orchestrator sees why.
        console.error(`crossrank serve: loading failed: ${(error as Error).message}`);
      }
    });
}
