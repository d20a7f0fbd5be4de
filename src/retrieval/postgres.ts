/**
 * PostgreSQL as the first stage, for corpora that already live there: full-text search
 * (`tsvector` @@ `websearch_to_tsquery`, ranked by `ts_rank_cd`) over an existing table, and
 * pgvector (`<=>`, cosine distance) when the extension and an embedding column are there.
 *
 *   const pg = new PostgresRetriever({ connectionString, table: 'articles', textColumn: 'body', titleColumn: 'title' });
 *
 * Documents come back with their text, title and metadata, so the pipeline needs no
 * document store. Metadata filters of plain equalities run inside the query (`metadata @>`,
 * a jsonb column); other filters are applied to an over-fetched result.
 *
 * `pg` is an optional dependency, loaded on first use.
 */
import { createRequire } from 'node:module';

import { BackendUnavailableError, InvalidArgumentError } from '../errors.js';
import type { Embedder } from '../embedding/embedder.js';
import { bm25Tokens } from './bm25.js';
import { matchesFilter, type DocumentFilter, type StoredDocument } from './document-store.js';
import { checkK, indexText, type IndexDocument, type IndexingRetriever, type RetrieveOptions, type ScoredId } from './retriever.js';

interface PgPool {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
  on?(event: 'error', listener: (error: Error) => void): unknown;
}

function loadPg(): { Pool: new (config: Record<string, unknown>) => PgPool } {
  try {
    return createRequire(import.meta.url)('pg');
  } catch (error) {
    throw new BackendUnavailableError(`the PostgreSQL retriever needs the optional dependency pg (npm install pg): ${(error as Error).message}`);
  }
}

export interface PostgresOptions {
  /** A pg Pool (or anything with query/end), or a connection string. */
  pool?: PgPool;
  connectionString?: string;
  table: string;
  idColumn?: string;
  textColumn?: string;
  titleColumn?: string;
  /** A jsonb column of metadata (filters run on it). */
  metadataColumn?: string;
  /** A stored tsvector column (with a GIN index); without it the vector is computed per row. */
  tsvectorColumn?: string;
  /** Text search configuration (default 'english'). */
  config?: string;
  /**
   * How a full-text query matches: 'any' (default) ORs the query's words, as a first stage
   * wants (recall; ts_rank_cd ranks documents with more of them higher); 'websearch' is
   * PostgreSQL's websearch_to_tsquery (all words, "phrases", -exclusions, or).
   */
  match?: 'any' | 'websearch';
  /** 'fts' (default) or 'vector' (pgvector; needs vectorColumn and embedder). */
  mode?: 'fts' | 'vector';
  vectorColumn?: string;
  embedder?: Embedder;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;
/** Quotes an identifier (optionally schema-qualified); anything unusual is refused. */
function ident(name: string, what: string): string {
  if (typeof name !== 'string' || !IDENTIFIER.test(name)) throw new InvalidArgumentError(`${what} must be a plain SQL identifier, got ${JSON.stringify(name)}`);
  return name.split('.').map((part) => `"${part}"`).join('.');
}

/** The part of a filter that is plain equality on metadata (usable as `metadata @> $json`). */
function containment(filter: DocumentFilter | undefined): Record<string, unknown> | undefined {
  if (!filter || typeof filter === 'function') return undefined;
  const out: Record<string, unknown> = {};
  for (const [field, condition] of Object.entries(filter)) {
    if (field.includes('.') || ['id', 'text', 'title'].includes(field)) continue;
    if (condition === null || ['string', 'number', 'boolean'].includes(typeof condition)) out[field] = condition;
  }
  return Object.keys(out).length ? out : undefined;
}

export class PostgresRetriever implements IndexingRetriever {
  readonly name: string;
  readonly filtersMetadata = true;
  readonly #pool: PgPool;
  readonly #ownsPool: boolean;
  readonly #options: PostgresOptions;
  readonly #sql: { table: string; id: string; text: string; title?: string; metadata?: string; tsv: string; config: string; vector?: string };
  #size = 0;

  constructor(options: PostgresOptions) {
    if (!options || typeof options.table !== 'string') throw new InvalidArgumentError('PostgresRetriever needs a table');
    const mode = options.mode ?? 'fts';
    if (mode !== 'fts' && mode !== 'vector') throw new InvalidArgumentError(`mode must be 'fts' or 'vector', got ${JSON.stringify(mode)}`);
    if (mode === 'vector' && (!options.vectorColumn || !options.embedder)) throw new InvalidArgumentError("mode 'vector' needs vectorColumn and an embedder");
    const config = options.config ?? 'english';
    if (options.match !== undefined && options.match !== 'any' && options.match !== 'websearch') {
      throw new InvalidArgumentError(`match must be 'any' or 'websearch', got ${JSON.stringify(options.match)}`);
    }
    if (!/^[a-z_]+$/.test(config)) throw new InvalidArgumentError(`config must be a text search configuration name, got ${JSON.stringify(config)}`);
    const text = ident(options.textColumn ?? 'text', 'textColumn');
    const title = options.titleColumn ? ident(options.titleColumn, 'titleColumn') : undefined;
    this.#sql = {
      table: ident(options.table, 'table'),
      id: ident(options.idColumn ?? 'id', 'idColumn'),
      text,
      title,
      metadata: options.metadataColumn ? ident(options.metadataColumn, 'metadataColumn') : undefined,
      tsv: options.tsvectorColumn
        ? ident(options.tsvectorColumn, 'tsvectorColumn')
        : `to_tsvector('${config}', ${title ? `coalesce(${title}, '') || ' ' || ` : ''}coalesce(${text}, ''))`,
      config,
      vector: options.vectorColumn ? ident(options.vectorColumn, 'vectorColumn') : undefined,
    };
    this.#options = { ...options, mode };
    if (options.pool) {
      this.#pool = options.pool;
      this.#ownsPool = false;
    } else {
      if (!options.connectionString) throw new InvalidArgumentError('PostgresRetriever needs a pool or a connectionString');
      const { Pool } = loadPg();
      this.#pool = new Pool({ connectionString: options.connectionString, max: 8 });
      // An idle connection that the server drops (restart, failover, shutdown) is reported on
      // the pool; without a listener Node would treat it as an uncaught error and exit. The
      // pool replaces the connection; the next query reconnects.
      this.#pool.on?.('error', (error) => process.emitWarning(`PostgreSQL connection lost: ${error.message}`, { code: 'CROSSRANK_POSTGRES' }));
      this.#ownsPool = true;
    }
    this.name = mode === 'fts' ? 'postgres-fts' : 'pgvector';
  }

  get size(): number {
    return this.#size;
  }

  /** Counts the table's rows (kept in `size`). */
  async count(): Promise<number> {
    const { rows } = await this.#pool.query(`SELECT count(*)::int AS n FROM ${this.#sql.table}`);
    return (this.#size = rows[0].n as number);
  }

  /**
   * Creates the table this retriever reads (id, text, title, metadata jsonb, a generated
   * tsvector with a GIN index; with vectorColumn and an embedder, a pgvector column with an
   * HNSW index), for users starting from files rather than an existing table.
   */
  async createTable(): Promise<void> {
    const s = this.#sql;
    if (this.#options.tsvectorColumn === undefined || !s.title || !s.metadata) {
      throw new InvalidArgumentError('createTable needs titleColumn, metadataColumn and tsvectorColumn set');
    }
    const dimension = this.#options.embedder?.dimension;
    if (s.vector && !dimension) throw new InvalidArgumentError('a vector column needs an embedder (for its dimension)');
    if (s.vector) await this.#pool.query('CREATE EXTENSION IF NOT EXISTS vector');
    await this.#pool.query(`CREATE TABLE IF NOT EXISTS ${s.table} (
      ${s.id} text PRIMARY KEY, ${s.text} text NOT NULL, ${s.title} text, ${s.metadata} jsonb NOT NULL DEFAULT '{}',
      ${s.tsv} tsvector GENERATED ALWAYS AS (to_tsvector('${s.config}', coalesce(${s.title}, '') || ' ' || ${s.text})) STORED
      ${s.vector ? `, ${s.vector} vector(${dimension})` : ''})`);
    const name = (suffix: string) => `${this.#options.table.replace(/\W/g, '_')}_${suffix}`;
    await this.#pool.query(`CREATE INDEX IF NOT EXISTS "${name(`${this.#options.tsvectorColumn}_gin`)}" ON ${s.table} USING GIN (${s.tsv})`);
    if (s.vector) await this.#pool.query(`CREATE INDEX IF NOT EXISTS "${name(`${this.#options.vectorColumn}_hnsw`)}" ON ${s.table} USING hnsw (${s.vector} vector_cosine_ops)`);
  }

  /** Inserts or updates rows (by id); with a vector column and an embedder, their embeddings too. */
  async add(docs: readonly IndexDocument[]): Promise<void> {
    const s = this.#sql;
    const embed = s.vector !== undefined && this.#options.embedder !== undefined;
    const columns = [s.id, s.text, ...(s.title ? [s.title] : []), ...(s.metadata ? [s.metadata] : []), ...(embed ? [s.vector!] : [])];
    const width = columns.length;
    for (let start = 0; start < docs.length; start += 500) {
      const batch = docs.slice(start, start + 500);
      const vectors = embed ? await this.#options.embedder!.embed(batch.map(indexText)) : [];
      const values: unknown[] = [];
      const rows = batch.map((d, i) => {
        values.push(d.id, d.text);
        if (s.title) values.push(d.title ?? null);
        if (s.metadata) values.push(JSON.stringify(d.metadata ?? {}));
        if (embed) values.push(`[${Array.from(vectors[i]).join(',')}]`);
        return `(${columns.map((c, j) => `$${i * width + j + 1}${embed && j === width - 1 ? '::vector' : ''}`).join(', ')})`;
      });
      const updates = columns.slice(1).map((c) => `${c} = EXCLUDED.${c}`).join(', ');
      await this.#pool.query(`INSERT INTO ${s.table} (${columns.join(', ')}) VALUES ${rows.join(', ')} ON CONFLICT (${s.id}) DO UPDATE SET ${updates}`, values);
    }
    await this.count();
  }

  async remove(ids: readonly string[]): Promise<number> {
    const { rows } = await this.#pool.query(`WITH d AS (DELETE FROM ${this.#sql.table} WHERE ${this.#sql.id} = ANY($1) RETURNING 1) SELECT count(*)::int AS n FROM d`, [ids]);
    await this.count();
    return rows[0].n as number;
  }

  /** The data lives in PostgreSQL: nothing to write. */
  async save(): Promise<void> {}

  async retrieve(query: string, k: number, options: RetrieveOptions & { filter?: DocumentFilter } = {}): Promise<ScoredId[]> {
    checkK(k);
    if (typeof query !== 'string') throw new InvalidArgumentError('query must be a string');
    const s = this.#sql;
    const contains = s.metadata ? containment(options.filter) : undefined;
    // What SQL cannot express is checked here, on up to 4k rows fetched.
    const residual = options.filter !== undefined && (typeof options.filter === 'function' || !s.metadata || Object.keys(options.filter).length !== Object.keys(contains ?? {}).length);
    const limit = residual ? k * 4 : k;
    const select = `${s.id}::text AS id, ${s.text} AS text${s.title ? `, ${s.title} AS title` : ''}${s.metadata ? `, ${s.metadata} AS metadata` : ''}`;
    const values: unknown[] = [];
    let sql: string;
    if (this.#options.mode === 'vector') {
      const [v] = await this.#options.embedder!.embed([query]);
      values.push(`[${Array.from(v).join(',')}]`, limit);
      const where = contains ? `WHERE ${s.metadata} @> $3::jsonb` : '';
      if (contains) values.push(JSON.stringify(contains));
      sql = `SELECT ${select}, 1 - (${s.vector} <=> $1::vector) AS score FROM ${s.table} ${where} ORDER BY ${s.vector} <=> $1::vector, ${s.id} LIMIT $2`;
    } else {
      const websearch = this.#options.match === 'websearch';
      // 'any': the query's letter/digit runs joined by | — nothing else reaches to_tsquery's syntax.
      const terms = bm25Tokens(query);
      if (!websearch && terms.length === 0) return [];
      values.push(websearch ? query : terms.join(' | '), limit);
      const where = contains ? ` AND ${s.metadata} @> $3::jsonb` : '';
      if (contains) values.push(JSON.stringify(contains));
      const tsquery = websearch ? `websearch_to_tsquery('${s.config}', $1)` : `to_tsquery('${s.config}', $1)`;
      sql = `SELECT ${select}, ts_rank_cd(${s.tsv}, q) AS score FROM ${s.table}, ${tsquery} q
             WHERE ${s.tsv} @@ q${where} ORDER BY score DESC, ${s.id} LIMIT $2`;
    }
    const { rows } = await this.#pool.query(sql, values);
    let hits: ScoredId[] = rows.map((r) => {
      const document: StoredDocument = { id: String(r.id), text: String(r.text ?? '') };
      if (typeof r.title === 'string' && r.title) document.title = r.title;
      if (r.metadata && typeof r.metadata === 'object') document.metadata = r.metadata as Record<string, unknown>;
      return { id: document.id, score: Number(r.score), document };
    });
    if (residual) hits = hits.filter((h) => matchesFilter(h.document!, options.filter!));
    if (options.accept) hits = hits.filter((h) => options.accept!(h.id));
    return hits.slice(0, k);
  }

  /** Whether the pgvector extension is available to this server (installed or installable). */
  async hasVectorAvailable(): Promise<boolean> {
    const { rows } = await this.#pool.query(`SELECT count(*)::int AS n FROM pg_available_extensions WHERE name = 'vector'`);
    return (rows[0].n as number) > 0;
  }

  /** Whether the pgvector extension is installed in this database. */
  async hasVectorExtension(): Promise<boolean> {
    const { rows } = await this.#pool.query(`SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'vector'`);
    return (rows[0].n as number) > 0;
  }

  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.end();
  }
}
