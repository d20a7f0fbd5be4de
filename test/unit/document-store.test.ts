/** The document store: JSONL parsing, metadata filters, persistence; the run replay retriever. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { DocumentStore, matchesFilter, parseDocumentLine, readDocumentsJsonl, type StoredDocument } from '../../src/retrieval/document-store.js';
import { RunRetriever } from '../../src/retrieval/run-retriever.js';
import { parseRun } from '../../src/eval/trec-files.js';
import { sharedDir, tempDir } from '../helpers.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

const doc = (id: string, metadata: Record<string, unknown>): StoredDocument => ({ id, text: `text ${id}`, metadata });

describe('parseDocumentLine', () => {
  it('takes id, text, title and the other fields as metadata', () => {
    expect(parseDocumentLine('{"id": 7, "text": "t", "title": "T", "lang": "en", "year": 2020}', 'x')).toEqual({
      id: '7', text: 't', title: 'T', metadata: { lang: 'en', year: 2020 },
    });
    expect(parseDocumentLine('{"_id": "b", "text": "t", "metadata": {"k": 1}}', 'x')).toEqual({ id: 'b', text: 't', metadata: { k: 1 } });
  });

  it('names the line of a bad document', () => {
    expect(() => parseDocumentLine('{"id": "a"}', 'f.jsonl:3')).toThrow(/f.jsonl:3: needs a string "text"/);
    expect(() => parseDocumentLine('{"text": "a"}', 'f.jsonl:4')).toThrow(/f.jsonl:4: needs an "id"/);
    expect(() => parseDocumentLine('[1]', 'f.jsonl:5')).toThrow(/must be a JSON object/);
    expect(() => parseDocumentLine('{oops', 'f.jsonl:6')).toThrow(/not valid JSON/);
  });
});

describe('metadata filters', () => {
  const d = doc('a', { lang: 'en', year: 2019, tags: ['x', 'y'], author: { name: 'Ada' } });
  it.each([
    [{ lang: 'en' }, true],
    [{ lang: 'de' }, false],
    [{ lang: ['de', 'en'] }, true],
    [{ tags: 'y' }, true],
    [{ year: { $gte: 2019, $lt: 2020 } }, true],
    [{ year: { $gt: 2019 } }, false],
    [{ year: { $gt: '2000' } }, false], // no comparison across types
    [{ 'author.name': 'Ada' }, true],
    [{ missing: { $exists: false } }, true],
    [{ lang: { $nin: ['en'] } }, false],
    [{ lang: { $ne: 'fr' }, year: 2019 }, true],
    [{ id: 'a' }, true],
  ])('%j -> %s', (filter, expected) => {
    expect(matchesFilter(d, filter as never)).toBe(expected);
  });

  it('an unknown operator is an error, not an empty result', () => {
    const store = new DocumentStore();
    expect(() => store.accept({ year: { $gtee: 3 } } as never)).toThrow(/unknown operator \$gtee/);
  });
});

describe('DocumentStore', () => {
  it('replaces duplicate ids, removes, saves and loads', async () => {
    const store = new DocumentStore();
    expect(store.add([doc('a', { v: 1 }), doc('b', { v: 2 })])).toBe(0);
    expect(store.add([doc('a', { v: 3 })])).toBe(1);
    expect(store.remove(['b', 'zz'])).toBe(1);
    await store.save(dir.path);
    const loaded = await DocumentStore.load(dir.path);
    expect([...loaded.values()]).toEqual([doc('a', { v: 3 })]);
    const accept = loaded.accept({ v: 3 })!;
    expect([accept('a'), accept('b')]).toEqual([true, false]);
    await expect(DocumentStore.load(join(dir.path, 'nowhere'))).rejects.toMatchObject({ code: 'CROSSRANK_INDEX_LOAD' });
  });

  it('reads JSONL input in batches', async () => {
    const path = join(dir.path, 'in.jsonl');
    writeFileSync(path, '{"id":"1","text":"a"}\n\n{"id":"2","text":"b"}\n{"id":"3","text":"c"}\n');
    const sizes: number[] = [];
    const r = await readDocumentsJsonl(path, (batch) => void sizes.push(batch.length), 2);
    expect(r.documents).toBe(3);
    expect(sizes).toEqual([2, 1]);
    await expect(readDocumentsJsonl(join(dir.path, 'none.jsonl'), () => {})).rejects.toThrow(/no such file/);
  });
});

describe('RunRetriever', () => {
  it('replays a run by query id or text, in trec_eval order, with filters', async () => {
    const run = parseRun('q1 Q0 a 1 1.0 t\nq1 Q0 b 2 3.0 t\nq1 Q0 c 3 2.0 t\n');
    const r = new RunRetriever(run, { queries: new Map([['q1', 'what is up']]) });
    expect((await r.retrieve('what is up', 2)).map((e) => e.id)).toEqual(['b', 'c']);
    expect((await r.retrieve('q1', 5, { accept: (id) => id !== 'b' })).map((e) => e.id)).toEqual(['c', 'a']);
    expect(await r.retrieve('unknown query', 5)).toEqual([]);
  });

  it('reads the shared TREC DL runs', async () => {
    const dl = join(sharedDir, 'data', 'trec-dl-2019');
    const r = RunRetriever.fromFiles(join(dl, 'runs', 'bm25.trec'), join(dl, 'queries.tsv'));
    expect(r.name).toBe('run:bm25.trec');
    expect(await r.retrieve('how long is life cycle of flea', 100)).toHaveLength(100);
  });
});
