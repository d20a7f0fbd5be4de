/**
 * The Qwen3-Reranker prompt with the real Qwen3 tokenizer (../shared/tokenizers/qwen3):
 * the shared prefix, the document and the closing frame concatenate to exactly the tokens of
 * the whole prompt on real TREC DL pairs; truncation cuts documents, never the frame.
 */
import { join } from 'node:path';
import { Tokenizer } from 'tokenizers';
import { describe, expect, it } from 'vitest';

import { Qwen3PromptTokenizer, qwen3RerankerPrompt } from '../../src/llm/qwen3-reranker-prompt.js';
import { bm25Pairs, loadTrecDl } from '../fixtures/trec-dl.js';
import { sharedDir } from '../helpers.js';

const tokenizerJson = join(sharedDir, 'tokenizers', 'qwen3', 'tokenizer.json');

describe('Qwen3-Reranker prompt', () => {
  it('reads the answer tokens the model card names: yes = 9693, no = 2152', () => {
    const t = Qwen3PromptTokenizer.fromFile(tokenizerJson);
    expect([t.yesId, t.noId]).toEqual([9693, 2152]);
  });

  it('prefix + document + suffix are exactly the tokens of the whole prompt (real TREC DL pairs)', async () => {
    const t = Qwen3PromptTokenizer.fromFile(tokenizerJson);
    const reference = Tokenizer.fromFile(tokenizerJson);
    const pairs = bm25Pairs(loadTrecDl(), 7, 400);
    let checked = 0;
    for (const [query, doc] of pairs) {
      const parts = await t.encode(query, [doc], { maxLength: 32_768 });
      const whole = (await reference.encode(qwen3RerankerPrompt(query, doc), null, { addSpecialTokens: false })).getIds();
      expect([...parts.prefix, ...parts.documents[0], ...parts.suffix]).toEqual(whole);
      expect(parts.truncated[0]).toBe(false);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(300);
    // A document starting with a digit, punctuation, CJK or a newline: the boundary holds too.
    for (const doc of ['42 is the answer', '"quoted" start', '中文文档', '\nnew line first', '  two spaces', '']) {
      const parts = await t.encode('q?', [doc], { maxLength: 4096 });
      const whole = (await reference.encode(qwen3RerankerPrompt('q?', doc), null, { addSpecialTokens: false })).getIds();
      expect([...parts.prefix, ...parts.documents[0], ...parts.suffix], JSON.stringify(doc)).toEqual(whole);
    }
  });

  it('cuts long documents, never the frame; a frame that leaves no room is an error', async () => {
    const t = Qwen3PromptTokenizer.fromFile(tokenizerJson);
    const long = 'the quick brown fox jumps over the lazy dog '.repeat(200);
    const full = await t.encode('what does the fox do', [long, 'short'], { maxLength: 100_000 });
    const cut = await t.encode('what does the fox do', [long, 'short'], { maxLength: 120 });
    expect(cut.prefix).toEqual(full.prefix);
    expect(cut.suffix).toEqual(full.suffix);
    expect(cut.prefix.length + cut.documents[0].length + cut.suffix.length).toBe(120);
    expect(cut.documents[0]).toEqual(full.documents[0].slice(0, cut.documents[0].length));
    expect(cut.truncated).toEqual([true, false]);
    await expect(t.encode('q', ['d'], { maxLength: 20 })).rejects.toThrow(/leaves no room for a document/);
    const custom = await t.encode('q', ['d'], { maxLength: 4096, instruction: 'Find code that answers the question' });
    expect(custom.prefix.length).not.toBe(full.prefix.length);
  });
});
