/**
 * The documents behind an index: id, text, title and metadata, kept in memory and saved as
 * docs.jsonl. Retrievers keep only what they search; the pipeline reads documents (for the
 * reranker, for filters and for results) from here.
 *
 * Metadata filters: `{field: value}` matches equal values (a field holding an array matches
 * when it contains the value); `{field: [a, b]}` matches any of the values; an operator
 * object `{field: {$in, $nin, $ne, $gt, $gte, $lt, $lte, $exists}}` compares; several fields
 * must all match. Dotted names reach nested objects ('author.name'). A function filter gets
 * the whole document.
 */
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { IndexLoadError, InvalidArgumentError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import type { IndexDocument } from './retriever.js';

export const DOCUMENTS_FILE = 'docs.jsonl';

export interface StoredDocument {
  id: string;
  text: string;
  title?: string;
  metadata?: Record<string, unknown>;
}

export type FilterCondition =
  | string
  | number
  | boolean
  | null
  | readonly (string | number | boolean | null)[]
  | {
      $in?: readonly unknown[];
      $nin?: readonly unknown[];
      $ne?: unknown;
      $gt?: number | string;
      $gte?: number | string;
      $lt?: number | string;
      $lte?: number | string;
      $exists?: boolean;
    };

export type DocumentFilter = Record<string, FilterCondition> | ((doc: StoredDocument) => boolean);

const OPERATORS = new Set(['$in', '$nin', '$ne', '$gt', '$gte', '$lt', '$lte', '$exists']);

function fieldValue(doc: StoredDocument, path: string): unknown {
  if (path === 'id' || path === 'title' || path === 'text') return doc[path];
  let value: unknown = doc.metadata;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

const equalsOrContains = (value: unknown, wanted: unknown) => (Array.isArray(value) ? value.includes(wanted) : value === wanted);

function matchesCondition(value: unknown, condition: FilterCondition): boolean {
  if (Array.isArray(condition)) return condition.some((c) => equalsOrContains(value, c));
  if (condition === null || typeof condition !== 'object') return equalsOrContains(value, condition);
  const c = condition as Exclude<FilterCondition, readonly unknown[] | string | number | boolean | null>;
  const ordered = (bound: number | string) => (typeof value === typeof bound ? (value as number | string) : undefined);
  if (c.$exists !== undefined && (value !== undefined) !== c.$exists) return false;
  if (c.$in && !c.$in.some((x) => equalsOrContains(value, x))) return false;
  if (c.$nin && c.$nin.some((x) => equalsOrContains(value, x))) return false;
  if ('$ne' in c && equalsOrContains(value, c.$ne)) return false;
  if (c.$gt !== undefined && !((ordered(c.$gt) ?? NaN) > c.$gt)) return false;
  if (c.$gte !== undefined && !((ordered(c.$gte) ?? NaN) >= c.$gte)) return false;
  if (c.$lt !== undefined && !((ordered(c.$lt) ?? NaN) < c.$lt)) return false;
  if (c.$lte !== undefined && !((ordered(c.$lte) ?? NaN) <= c.$lte)) return false;
  return true;
}

/** Checks a filter's shape once, so a typo fails loudly instead of matching nothing. */
export function checkFilter(filter: unknown): asserts filter is DocumentFilter | undefined {
  if (filter === undefined || typeof filter === 'function') return;
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) {
    throw new InvalidArgumentError('filter must be an object {field: condition} or a function');
  }
  for (const [field, condition] of Object.entries(filter)) {
    if (condition !== null && typeof condition === 'object' && !Array.isArray(condition)) {
      for (const op of Object.keys(condition)) {
        if (!OPERATORS.has(op)) throw new InvalidArgumentError(`filter on ${field}: unknown operator ${op} (use ${[...OPERATORS].join(', ')})`);
      }
    }
  }
}

export function matchesFilter(doc: StoredDocument, filter: DocumentFilter): boolean {
  if (typeof filter === 'function') return Boolean(filter(doc));
  for (const [field, condition] of Object.entries(filter)) if (!matchesCondition(fieldValue(doc, field), condition)) return false;
  return true;
}

/** Reads one JSONL line of input into a document: {"id", "text", "title"?, ...metadata}. */
export function parseDocumentLine(line: string, where: string): StoredDocument {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new InvalidArgumentError(`${where}: not valid JSON (${(error as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidArgumentError(`${where}: each line must be a JSON object`);
  const { id: rawId, _id, text, title, metadata, ...rest } = value;
  const id = rawId ?? _id;
  if ((typeof id !== 'string' && typeof id !== 'number') || String(id) === '') throw new InvalidArgumentError(`${where}: needs an "id" (string or number)`);
  if (typeof text !== 'string') throw new InvalidArgumentError(`${where}: needs a string "text"`);
  if (title !== undefined && title !== null && typeof title !== 'string') throw new InvalidArgumentError(`${where}: "title" must be a string`);
  // Metadata: an explicit "metadata" object, else every other field of the line.
  const meta = metadata !== null && typeof metadata === 'object' && !Array.isArray(metadata) ? (metadata as Record<string, unknown>) : rest;
  const doc: StoredDocument = { id: String(id), text };
  if (typeof title === 'string' && title !== '') doc.title = title;
  if (Object.keys(meta).length > 0) doc.metadata = meta;
  return doc;
}

export class DocumentStore {
  readonly #docs = new Map<string, StoredDocument>();

  get size(): number {
    return this.#docs.size;
  }

  get(id: string): StoredDocument | undefined {
    return this.#docs.get(id);
  }

  has(id: string): boolean {
    return this.#docs.has(id);
  }

  ids(): IterableIterator<string> {
    return this.#docs.keys();
  }

  values(): IterableIterator<StoredDocument> {
    return this.#docs.values();
  }

  /** Adds or replaces documents; returns how many replaced an existing id. */
  add(docs: readonly IndexDocument[]): number {
    let replaced = 0;
    for (const d of docs) {
      if (this.#docs.has(d.id)) replaced++;
      this.#docs.set(d.id, { ...d });
    }
    return replaced;
  }

  remove(ids: readonly string[]): number {
    let n = 0;
    for (const id of ids) if (this.#docs.delete(id)) n++;
    return n;
  }

  /** An id predicate for retrievers, from a metadata filter (undefined: accept everything). */
  accept(filter: DocumentFilter | undefined): ((id: string) => boolean) | undefined {
    if (filter === undefined) return undefined;
    checkFilter(filter);
    return (id) => {
      const doc = this.#docs.get(id);
      return doc !== undefined && matchesFilter(doc, filter);
    };
  }

  async save(dir: string): Promise<void> {
    const lines: string[] = [];
    for (const d of this.#docs.values()) lines.push(JSON.stringify(d));
    writeFileAtomic(join(dir, DOCUMENTS_FILE), lines.length ? `${lines.join('\n')}\n` : '');
  }

  static async load(dir: string): Promise<DocumentStore> {
    const path = join(dir, DOCUMENTS_FILE);
    if (!existsSync(path)) throw new IndexLoadError(`no document store at ${path}`);
    const store = new DocumentStore();
    let n = 0;
    const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
    try {
      for await (const line of lines) {
        n++;
        if (line.trim() === '') continue;
        const d = parseDocumentLine(line, `${path}:${n}`);
        store.#docs.set(d.id, d);
      }
    } catch (error) {
      throw new IndexLoadError(`cannot read ${path}: ${(error as Error).message}`);
    }
    return store;
  }
}

/** Reads a JSONL input file of documents, line by line, calling `onBatch` every `batchSize` documents. */
export async function readDocumentsJsonl(
  path: string,
  onBatch: (docs: StoredDocument[], bytesRead: number) => Promise<void> | void,
  batchSize = 1000,
): Promise<{ documents: number; lines: number }> {
  if (!existsSync(path)) throw new InvalidArgumentError(`cannot read ${path}: no such file`);
  let batch: StoredDocument[] = [];
  let n = 0;
  let documents = 0;
  let bytes = 0;
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const line of lines) {
    n++;
    bytes += Buffer.byteLength(line) + 1;
    if (line.trim() === '') continue;
    batch.push(parseDocumentLine(line, `${path}:${n}`));
    documents++;
    if (batch.length >= batchSize) {
      await onBatch(batch, bytes);
      batch = [];
    }
  }
  if (batch.length) await onBatch(batch, bytes);
  return { documents, lines: n };
}
