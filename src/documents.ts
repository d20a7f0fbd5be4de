/** Documents may be strings or objects with a `text` field; this turns them into texts, checking each. */
import { InvalidArgumentError } from './errors.js';

export type DocumentInput = string | { text: string; [key: string]: unknown };

export function documentTexts(docs: readonly DocumentInput[], what = 'documents'): string[] {
  if (!Array.isArray(docs)) throw new InvalidArgumentError(`${what} must be an array of strings or {text} objects`);
  return docs.map((doc, i) => {
    if (typeof doc === 'string') return doc;
    if (doc !== null && typeof doc === 'object' && typeof (doc as { text?: unknown }).text === 'string') {
      return (doc as { text: string }).text;
    }
    throw new InvalidArgumentError(`${what}[${i}] must be a string or an object with a string "text", got ${describe(doc)}`);
  });
}

export function checkQuery(query: unknown, what = 'query'): string {
  if (typeof query !== 'string') throw new InvalidArgumentError(`${what} must be a string, got ${describe(query)}`);
  return query;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object without a string "text"' : typeof value;
}
