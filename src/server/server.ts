/**
 * `crossrank serve`: an HTTP rerank server on fastify, speaking the request shapes users
 * already send — Cohere/Jina (`POST /v1/rerank`, `/v2/rerank`), text-embeddings-inference
 * (`POST /rerank`) — plus `POST /search` for a configured pipeline, `GET /health` and
 * `GET /metrics` (Prometheus).
 *
 * Under pressure: requests from all clients share backend batches (the CrossEncoder's batch
 * scheduler); at most `maxQueuedRequests` are admitted at once and the next gets 429 with
 * Retry-After; each request has a deadline (header `x-request-timeout-ms` or body
 * `timeout_ms`, capped by the server's), after which its queued work is dropped and it gets
 * 504; size limits answer 413. `close()` stops accepting, lets requests in flight finish, then
 * releases the models.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';

import { CrossEncoder, type CrossEncoderOptions } from '../cross-encoder.js';
import { BackendUnavailableError, DeadlineExceededError, InvalidArgumentError, OverloadedError, PayloadTooLargeError } from '../errors.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { cutToTokens } from '../pipeline/rerank-stage.js';
import type { DocumentFilter } from '../retrieval/document-store.js';
import { errorResponse } from './http-errors.js';
import { ServerMetrics } from './metrics.js';
import {
  defaultLimits,
  documentList,
  object,
  optionalBoolean,
  optionalPositiveInteger,
  optionalString,
  requiredString,
  type Limits,
} from './validate.js';

export interface ModelSpec {
  /** The name clients pass as "model" (the first model is the default). */
  name: string;
  /** Hub id or directory. */
  source: string;
  options?: CrossEncoderOptions;
}

export interface ServerOptions {
  models: ModelSpec[];
  /** A pipeline for POST /search, built once the models are loaded (it may rerank with one of them). */
  pipeline?: (models: ReadonlyMap<string, CrossEncoder>) => Promise<Pipeline>;
  limits?: Partial<Limits>;
  /** fastify's logger (default: off). */
  logger?: boolean;
}

type Route = '/v1/rerank' | '/v2/rerank' | '/rerank' | '/search';

export class RerankServer {
  readonly app: FastifyInstance;
  readonly limits: Limits;
  readonly metrics: ServerMetrics;
  readonly #options: ServerOptions;
  readonly #models = new Map<string, CrossEncoder>();
  #pipeline: Pipeline | undefined;
  #state: 'loading' | 'ready' | 'draining' | 'failed' = 'loading';
  #closing: Promise<void> | undefined;
  #loadError: Error | undefined;
  #inFlight = 0;
  /** HTTP requests not yet answered (any route), for the drain. */
  #active = 0;
  readonly #idleWaiters: (() => void)[] = [];
  #loading: Promise<void> | undefined;

  constructor(options: ServerOptions) {
    if (!options.models?.length && !options.pipeline) throw new InvalidArgumentError('serve needs at least one --model (or a search pipeline)');
    const names = new Set<string>();
    for (const m of options.models) {
      if (!/^[\w.:/@-]+$/.test(m.name)) throw new InvalidArgumentError(`model name ${JSON.stringify(m.name)} may hold letters, digits and . _ : / @ - only`);
      if (names.has(m.name)) throw new InvalidArgumentError(`model name ${m.name} is given twice`);
      names.add(m.name);
    }
    this.#options = options;
    this.limits = { ...defaultLimits, ...options.limits };
    for (const [key, value] of Object.entries(this.limits)) {
      if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`limit ${key} must be a positive integer, got ${value}`);
    }
    this.metrics = new ServerMetrics(() => this.#models);
    // Shutdown is ours (close()): connections are not cut by fastify, requests that arrive on
    // open connections while draining are still served, and told to close their connection.
    this.app = Fastify({ logger: options.logger ?? false, bodyLimit: this.limits.maxBodyBytes, return503OnClosing: false, forceCloseConnections: false });
    this.app.server.on('request', (_req, res) => {
      this.#active++;
      if (this.#state === 'draining') res.setHeader('connection', 'close');
      res.once('close', () => {
        if (--this.#active === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
      });
    });
    this.#routes();
  }

  /** Starts loading the models (health answers 503 until they are ready); resolves when ready. */
  load(): Promise<void> {
    this.#loading ??= (async () => {
      try {
        for (const m of this.#options.models) {
          const model = await CrossEncoder.load(m.source, { maxWaitMs: 2, ...m.options });
          this.#models.set(m.name, model);
          this.metrics.watch(m.name, model);
        }
        if (this.#options.pipeline) this.#pipeline = await this.#options.pipeline(this.#models);
        await this.#pipeline?.ready;
        if (this.#state === 'loading') this.#state = 'ready';
      } catch (error) {
        this.#state = 'failed';
        this.#loadError = error as Error;
        throw error;
      }
    })();
    return this.#loading;
  }

  /** Listens (before the models are loaded, so that health checks see "loading"); returns the address. */
  async listen(port: number, host = '127.0.0.1'): Promise<string> {
    const address = await this.app.listen({ port, host });
    return address;
  }

  /**
   * Stops accepting connections, answers every request already received (and any that
   * arrives on an open connection meanwhile, with `connection: close`), closes the idle
   * connections, then releases the models. After `graceMs` the remaining connections are cut.
   */
  async close(graceMs = 30_000): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#state = 'draining';
    this.#closing = (async () => {
      const closed = this.app.close();
      if (this.#active > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
      this.app.server.closeIdleConnections();
      const force = setTimeout(() => this.app.server.closeAllConnections(), graceMs);
      try {
        await closed;
      } finally {
        clearTimeout(force);
      }
      await this.#loading?.catch(() => {});
      await Promise.all([...this.#models.values()].map((m) => m.dispose()));
    })();
    return this.#closing;
  }

  get state(): string {
    return this.#state;
  }

  #model(name: string | undefined): CrossEncoder {
    if (this.#state === 'loading') throw new BackendUnavailableError('the models are still loading');
    if (this.#state === 'failed') throw new BackendUnavailableError(`the models failed to load: ${this.#loadError?.message}`);
    const key = name ?? this.#options.models[0]?.name;
    const model = key === undefined ? undefined : this.#models.get(key);
    if (!model) throw new InvalidArgumentError(`unknown model ${JSON.stringify(name)}; this server has ${[...this.#models.keys()].join(', ')}`);
    return model;
  }

  /** Admission, deadline, metrics and error mapping around one request. */
  async #serve(route: Route, request: FastifyRequest, reply: FastifyReply, handle: (body: Record<string, unknown>, signal: AbortSignal) => Promise<unknown>): Promise<unknown> {
    const start = performance.now();
    this.metrics.inFlight.inc();
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let admitted = false;
    try {
      if (this.#inFlight >= this.limits.maxQueuedRequests) {
        throw new OverloadedError(`${this.#inFlight} requests are queued; try again shortly`, this.#retryAfterSeconds());
      }
      admitted = true;
      this.#inFlight++;
      const body = object(request.body);
      const timeoutMs = this.#timeout(request, body);
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const error = new DeadlineExceededError(`the request took longer than its deadline of ${timeoutMs} ms`);
          controller.abort(error);
          reject(error);
        }, timeoutMs);
      });
      expired.catch(() => {});
      const result = await Promise.race([handle(body, controller.signal), expired]);
      this.metrics.requests.inc({ route, status: '200' });
      return result;
    } catch (error) {
      const { status, body, retryAfter } = errorResponse(error);
      if (status === 500) request.log.error(error);
      this.metrics.requests.inc({ route, status: String(status) });
      this.metrics.errors.inc({ code: body.error.code });
      if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
      return reply.code(status).send(body);
    } finally {
      clearTimeout(timer);
      if (admitted) this.#inFlight--;
      this.metrics.inFlight.dec();
      this.metrics.latency.observe({ route }, (performance.now() - start) / 1000);
    }
  }

  #timeout(request: FastifyRequest, body: Record<string, unknown>): number {
    const header = request.headers['x-request-timeout-ms'];
    const fromHeader = typeof header === 'string' ? Number(header) : undefined;
    if (fromHeader !== undefined && !(Number.isFinite(fromHeader) && fromHeader > 0)) throw new InvalidArgumentError('x-request-timeout-ms must be a positive number');
    const fromBody = optionalPositiveInteger(body, 'timeout_ms');
    return Math.min(this.limits.requestTimeoutMs, fromBody ?? fromHeader ?? Infinity);
  }

  /** Seconds until the backlog of the busiest model is likely to be done (at least 1). */
  #retryAfterSeconds(): number {
    let ms = 0;
    for (const m of this.#models.values()) {
      const { pendingTokens, msPerToken } = m.load();
      ms = Math.max(ms, pendingTokens * msPerToken);
    }
    return Math.max(1, Math.ceil(ms / 1000));
  }

  /** Scores `docs`, cutting each to `maxTokens` model tokens first when asked. */
  async #score(model: CrossEncoder, query: string, docs: string[], signal: AbortSignal, options: { maxTokensPerDoc?: number; raw?: boolean } = {}) {
    let texts = docs;
    if (options.maxTokensPerDoc !== undefined) {
      const counts = await model.countTokens(docs);
      texts = docs.map((d, i) => cutToTokens(d, counts[i], options.maxTokensPerDoc!));
    }
    return model.scoreDetailed(query, texts, { signal, raw: options.raw });
  }

  #routes(): void {
    const app = this.app;
    app.setErrorHandler((error: Error & { code?: string; statusCode?: number }, request, reply) => {
      // fastify's own failures: body too large, unparsable JSON, wrong content type.
      const mapped =
        error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? new PayloadTooLargeError(`the request body is larger than ${this.limits.maxBodyBytes} bytes`)
          : error.statusCode !== undefined && error.statusCode < 500
            ? new InvalidArgumentError(error.message)
            : error;
      const { status, body } = errorResponse(mapped);
      if (status === 500) request.log.error(error);
      this.metrics.errors.inc({ code: body.error.code });
      return reply.code(status).send(body);
    });
    app.setNotFoundHandler((request, reply) =>
      reply.code(404).send({ error: { code: 'CROSSRANK_NOT_FOUND', message: `no route ${request.method} ${request.url}` } }),
    );

    // Cohere / Jina: {model?, query, documents, top_n?, return_documents?, max_tokens_per_doc?}
    const cohere = (version: 'v1' | 'v2') => async (request: FastifyRequest, reply: FastifyReply) =>
      this.#serve(`/${version}/rerank`, request, reply, async (body, signal) => {
        const modelName = optionalString(body, 'model');
        const model = this.#model(modelName);
        const query = requiredString(body, 'query');
        const docs = documentList(body, 'documents', this.limits);
        const topN = optionalPositiveInteger(body, 'top_n');
        const returnDocuments = optionalBoolean(body, 'return_documents') ?? false;
        const maxTokensPerDoc = optionalPositiveInteger(body, 'max_tokens_per_doc');
        this.metrics.documents.observe({ route: `/${version}/rerank` }, docs.length);
        const { scores } = await this.#score(model, query, docs, signal, { maxTokensPerDoc });
        const order = [...scores.keys()].sort((a, b) => scores[b] - scores[a] || a - b).slice(0, topN ?? docs.length);
        return {
          id: randomUUID(),
          model: modelName ?? this.#options.models[0].name,
          results: order.map((index) => ({ index, relevance_score: scores[index], ...(returnDocuments ? { document: { text: docs[index] } } : {}) })),
          meta: { api_version: { version: version === 'v1' ? '1' : '2' }, billed_units: { search_units: 1 } },
        };
      });
    app.post('/v1/rerank', cohere('v1'));
    app.post('/v2/rerank', cohere('v2'));

    // text-embeddings-inference: {query, texts, truncate?, raw_scores?, return_text?} -> [{index, score, text?}]
    app.post('/rerank', async (request, reply) =>
      this.#serve('/rerank', request, reply, async (body, signal) => {
        const model = this.#model(optionalString(body, 'model'));
        const query = requiredString(body, 'query');
        const texts = documentList(body, 'texts', this.limits);
        const truncate = optionalBoolean(body, 'truncate') ?? false;
        const raw = optionalBoolean(body, 'raw_scores') ?? false;
        const returnText = optionalBoolean(body, 'return_text') ?? false;
        this.metrics.documents.observe({ route: '/rerank' }, texts.length);
        const { scores, truncated } = await this.#score(model, query, texts, signal, { raw });
        // TEI refuses inputs over the model's length unless asked to truncate.
        const cut = truncated.indexOf(1);
        if (!truncate && cut >= 0) {
          throw new PayloadTooLargeError(`texts[${cut}] with the query is longer than the model's ${model.info.maxLength} tokens; pass "truncate": true`);
        }
        const order = [...scores.keys()].sort((a, b) => scores[b] - scores[a] || a - b);
        return order.map((index) => ({ index, score: scores[index], ...(returnText ? { text: texts[index] } : {}) }));
      }),
    );

    // A configured pipeline: {query, top_n?, candidates?, filter?, budget_ms?}
    app.post('/search', async (request, reply) =>
      this.#serve('/search', request, reply, async (body) => {
        if (this.#state === 'loading') throw new BackendUnavailableError('the pipeline is still loading');
        if (!this.#pipeline) throw new InvalidArgumentError('this server has no search pipeline (start it with --index)');
        const query = requiredString(body, 'query');
        const filter = body.filter as DocumentFilter | undefined;
        if (filter !== undefined && (filter === null || typeof filter !== 'object' || Array.isArray(filter))) {
          throw new InvalidArgumentError('"filter" must be an object');
        }
        const budget = body.budget_ms;
        if (budget !== undefined && (typeof budget !== 'number' || !(budget > 0))) throw new InvalidArgumentError('"budget_ms" must be a positive number');
        const r = await this.#pipeline.search(query, {
          filter,
          topN: optionalPositiveInteger(body, 'top_n'),
          candidates: optionalPositiveInteger(body, 'candidates'),
          budgetMs: budget as number | undefined,
        });
        return {
          results: r.results.map((x) => ({ id: x.id, score: x.score, reranked: x.reranked, stage1_rank: x.stage1Rank, stage1_score: x.stage1Score, document: x.document })),
          partial: r.partial,
          timings: r.timings,
          counts: r.counts,
        };
      }),
    );

    app.get('/health', async (_request, reply) => {
      const ok = this.#state === 'ready';
      return reply.code(ok ? 200 : 503).send({
        status: this.#state,
        models: [...this.#models.keys()],
        ...(this.#loadError ? { error: this.#loadError.message } : {}),
      });
    });

    app.get('/metrics', async (_request, reply) =>
      reply.header('content-type', this.metrics.registry.contentType).send(await this.metrics.registry.metrics()),
    );
  }
}
