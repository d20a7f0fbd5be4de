/** Reads documents for the CLI: a text file (one document a line), JSONL with "text", or stdin ("-"). */
import { readFileSync } from 'node:fs';

import { InvalidArgumentError } from '../errors.js';

export interface InputDocument {
  text: string;
  [key: string]: unknown;
}

function readSource(path: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    throw new InvalidArgumentError(`cannot read ${path === '-' ? 'standard input' : path}: ${(error as Error).message}`);
  }
}

/** JSONL when the file ends in .jsonl/.ndjson or its first non-blank character is '{'. */
export function readDocuments(path: string): InputDocument[] {
  const content = readSource(path);
  const lines = content.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  const jsonl = /\.(jsonl|ndjson)$/i.test(path) || /^\s*\{/.test(content);
  if (!jsonl) return lines.map((text) => ({ text }));
  const docs: InputDocument[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new InvalidArgumentError(`${path}:${i + 1}: not valid JSON (${(error as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || typeof (value as { text?: unknown }).text !== 'string') {
      throw new InvalidArgumentError(`${path}:${i + 1}: each line needs a string "text" field`);
    }
    docs.push(value as InputDocument);
  });
  return docs;
}

export function readJsonLines<T>(path: string, check: (value: unknown, line: number) => T): T[] {
  return readSource(path)
    .split(/\r?\n/)
    .map((line, i) => [line, i + 1] as const)
    .filter(([line]) => line.trim() !== '')
    .map(([line, n]) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        throw new InvalidArgumentError(`${path}:${n}: not valid JSON (${(error as Error).message})`);
      }
      return check(value, n);
    });
}
