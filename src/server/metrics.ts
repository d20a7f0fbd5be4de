/** The server's Prometheus metrics (prom-client): requests, latency, batch sizes, queue depth, tokens, errors. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

import type { CrossEncoder } from '../cross-encoder.js';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'status'>;
  readonly latency: Histogram<'route'>;
  readonly documents: Histogram<'route'>;
  readonly errors: Counter<'code'>;
  readonly inFlight: Gauge;
  readonly #batchRows: Histogram<'model'>;
  readonly #batchSeconds: Histogram<'model'>;
  readonly #tokens: Counter<'model'>;

  constructor(models: () => Map<string, CrossEncoder>) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'crossrank_process_' });
    this.requests = new Counter({ name: 'crossrank_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers });
    this.latency = new Histogram({
      name: 'crossrank_request_duration_seconds', help: 'request latency', labelNames: ['route'], registers,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
    this.documents = new Histogram({
      name: 'crossrank_request_documents', help: 'documents per request', labelNames: ['route'], registers,
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000],
    });
    this.errors = new Counter({ name: 'crossrank_errors_total', help: 'error answers by crossrank error code', labelNames: ['code'], registers });
    this.inFlight = new Gauge({ name: 'crossrank_requests_in_flight', help: 'requests being served', registers });
    this.#batchRows = new Histogram({
      name: 'crossrank_batch_pairs', help: 'pairs per backend batch (concurrent requests share batches)', labelNames: ['model'], registers,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    });
    this.#batchSeconds = new Histogram({
      name: 'crossrank_batch_duration_seconds', help: 'backend time per batch', labelNames: ['model'], registers,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    });
    this.#tokens = new Counter({ name: 'crossrank_tokens_total', help: 'tokens scored', labelNames: ['model'], registers });
    new Gauge({
      name: 'crossrank_queue_tokens', help: 'tokens waiting for the backend (queue depth)', labelNames: ['model'], registers,
      collect() {
        for (const [name, model] of models()) this.set({ model: name }, model.load().pendingTokens);
      },
    });
  }

  /** Records every backend batch of `model`. */
  watch(name: string, model: CrossEncoder): void {
    model.onBatch((b) => {
      this.#batchRows.observe({ model: name }, b.rows);
      this.#batchSeconds.observe({ model: name }, b.ms / 1000);
      this.#tokens.inc({ model: name }, b.tokens);
    });
  }
}
