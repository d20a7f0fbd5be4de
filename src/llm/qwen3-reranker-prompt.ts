/**
 * The prompt of the Qwen3-Reranker family, as its model card defines it: a system line that
 * asks for "yes" or "no", the user turn with an instruction, the query and the document, and
 * the assistant prefix with an empty thinking block. The score is softmax([logit("yes"),
 * logit("no")])[0] at the last position.
 *
 *   <|im_start|>system\nJudge whether the Document meets the requirements based on the Query
 *   and the Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n
 *   <|im_start|>user\n<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}
 *   <|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n
 *
 * Tokens are built in three parts — the frame and query (shared by every document of a
 * query, the part the engine runs once), the document, and the closing frame — so that a
 * long document is cut and the frame never is. The split falls on a pre-token boundary of
 * the byte-level BPE (": " then the document), so the three parts concatenated are exactly the
 * tokens of the whole string (checked in the tests on real TREC DL passages).
 */
import { createRequire } from 'node:module';

import { InvalidArgumentError, ModelLoadError } from '../errors.js';

export const QWEN3_DEFAULT_INSTRUCTION = 'Given a web search query, retrieve relevant passages that answer the query';

const SYSTEM =
  '<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. ' +
  'Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n';
const CLOSING = '<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n';

/** The whole prompt as one string (what the model card tokenizes). */
export function qwen3RerankerPrompt(query: string, document: string, instruction = QWEN3_DEFAULT_INSTRUCTION): string {
  return `${SYSTEM}<Instruct>: ${instruction}\n<Query>: ${query}\n<Document>: ${document}${CLOSING}`;
}

interface HfEncoding {
  getIds(): number[];
}
interface HfTokenizer {
  encode(text: string, pair?: string | null, options?: { addSpecialTokens?: boolean }): Promise<HfEncoding>;
  tokenToId(token: string): number | null;
  disableTruncation(): void;
  disablePadding(): void;
}

export interface Qwen3PromptTokens {
  /** Frame + instruction + query, up to "<Document>:" — the same for every document of the query. */
  prefix: Int32Array;
  /** Per document: its tokens (" " + text), cut to fit. */
  documents: Int32Array[];
  /** The closing frame (assistant turn), the same for every prompt. */
  suffix: Int32Array;
  /** Per document: whether it was cut. */
  truncated: boolean[];
}

export class Qwen3PromptTokenizer {
  readonly yesId: number;
  readonly noId: number;
  /** <|endoftext|>, the family's padding token. */
  readonly padId: number;
  readonly #tokenizer: HfTokenizer;
  #suffix: Int32Array | undefined;

  private constructor(tokenizer: HfTokenizer, yesId: number, noId: number, padId: number) {
    this.#tokenizer = tokenizer;
    this.yesId = yesId;
    this.noId = noId;
    this.padId = padId;
  }

  /** From a tokenizer.json (the Qwen3 family's byte-level BPE). */
  static fromFile(tokenizerJson: string): Qwen3PromptTokenizer {
    const require = createRequire(import.meta.url);
    const { Tokenizer } = require('tokenizers') as { Tokenizer: { fromFile(path: string): HfTokenizer } };
    let tokenizer: HfTokenizer;
    try {
      tokenizer = Tokenizer.fromFile(tokenizerJson);
    } catch (error) {
      throw new ModelLoadError(`cannot read ${tokenizerJson}: ${(error as Error).message}`);
    }
    tokenizer.disableTruncation();
    tokenizer.disablePadding();
    const id = (token: string) => {
      const v = tokenizer.tokenToId(token);
      if (typeof v !== 'number') throw new ModelLoadError(`${tokenizerJson} has no token ${JSON.stringify(token)}; is this a Qwen3 tokenizer?`);
      return v;
    };
    return new Qwen3PromptTokenizer(tokenizer, id('yes'), id('no'), id('<|endoftext|>'));
  }

  /** Tokens of each text as a document would take them (" " + text). */
  async countTokens(texts: readonly string[]): Promise<Int32Array> {
    return Int32Array.from(await Promise.all(texts.map((text) => this.#encode(` ${text}`))), (ids) => ids.length);
  }

  async #encode(text: string): Promise<Int32Array> {
    return Int32Array.from((await this.#tokenizer.encode(text, null, { addSpecialTokens: false })).getIds());
  }

  /**
   * The prompt tokens of one query and its documents. `maxLength` bounds every prompt
   * (frame included): documents are cut from the end to fit; a frame and query that alone
   * leave no room for a document is an error naming the sizes.
   */
  async encode(query: string, documents: readonly string[], options: { instruction?: string; maxLength: number }): Promise<Qwen3PromptTokens> {
    if (typeof query !== 'string') throw new InvalidArgumentError('query must be a string');
    const instruction = options.instruction ?? QWEN3_DEFAULT_INSTRUCTION;
    const prefix = await this.#encode(`${SYSTEM}<Instruct>: ${instruction}\n<Query>: ${query}\n<Document>:`);
    this.#suffix ??= await this.#encode(CLOSING);
    const room = options.maxLength - prefix.length - this.#suffix.length;
    if (room < 1) {
      throw new InvalidArgumentError(
        `the prompt frame, instruction and query take ${prefix.length + this.#suffix.length} tokens; maxLength ${options.maxLength} leaves no room for a document`,
      );
    }
    for (const d of documents) if (typeof d !== 'string') throw new InvalidArgumentError('documents must be strings');
    // All at once: each encode is its own job on libuv's pool, so they run side by side.
    const encoded = await Promise.all(documents.map((d) => this.#encode(` ${d}`)));
    return {
      prefix,
      documents: encoded.map((ids) => (ids.length > room ? ids.slice(0, room) : ids)),
      suffix: this.#suffix,
      truncated: encoded.map((ids) => ids.length > room),
    };
  }
}
