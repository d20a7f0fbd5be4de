/** Document collections: JSONL with {"id", "text"} (+ "title"), or a BEIR corpus.jsonl ({"_id", "text", "title"}). */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

import { InvalidArgumentError } from '../errors.js';

export interface CorpusDocument {
  id: string;
  text: string;
  title?: string;
}

/** Reads the whole corpus into a map id -> document (title joined in front of the text). */
export async function readCorpus(path: string): Promise<Map<string, CorpusDocument>> {
  const docs = new Map<string, CorpusDocument>();
  let n = 0;
  const lines = createInterface({ input: createReadStream(path).on('error', () => {}), crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      n++;
      if (line.trim() === '') continue;
      let value: { id?: unknown; _id?: unknown; text?: unknown; title?: unknown };
      try {
        value = JSON.parse(line);
      } catch (error) {
        throw new InvalidArgumentError(`${path}:${n}: not valid JSON (${(error as Error).message})`);
      }
      const id = value.id ?? value._id;
      if ((typeof id !== 'string' && typeof id !== 'number') || typeof value.text !== 'string') {
        throw new InvalidArgumentError(`${path}:${n}: each line needs "id" (or "_id") and a string "text"`);
      }
      const title = typeof value.title === 'string' && value.title ? value.title : undefined;
      docs.set(String(id), { id: String(id), text: value.text, title });
    }
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    throw new InvalidArgumentError(`cannot read corpus ${path}: ${(error as Error).message}`);
  }
  return docs;
}

export const documentText = (d: CorpusDocument) => (d.title ? `${d.title}. ${d.text}` : d.text);
