/**
 * Finds a tokenizer directory and reads what a model config needs from it (vocabulary
 * size, padding id). Tokenization itself lives elsewhere.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { ModelLoadError } from '../errors.js';
import { packageRoot } from '../package-info.js';

/** Files copied from a tokenizer directory into a model directory, when present. */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.txt',
  'sentencepiece.bpe.model',
  'vocab.json',
  'merges.txt',
];

/**
 * The default tokenizer for synthetic models: $CROSSRANK_TOKENIZER_DIR, else the shared
 * bert-base-uncased tokenizer next to the working directory or the package.
 */
export function defaultTokenizerDir(family: 'bert-base-uncased' | 'qwen3' = 'bert-base-uncased'): string {
  const candidates = [
    family === 'bert-base-uncased' ? process.env.CROSSRANK_TOKENIZER_DIR : undefined,
    resolve('..', 'shared', 'tokenizers', family),
    resolve(packageRoot, '..', 'shared', 'tokenizers', family),
  ].filter((c): c is string => Boolean(c));
  for (const dir of candidates) if (existsSync(join(dir, 'tokenizer.json')) || existsSync(join(dir, 'vocab.txt'))) return dir;
  throw new ModelLoadError(
    `no default tokenizer found (looked in ${candidates.join(', ')}); pass --tokenizer <dir> with tokenizer.json or vocab.txt`,
  );
}

export interface TokenizerFacts {
  vocabSize: number;
  padTokenId: number;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ModelLoadError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

/** Vocabulary size (largest id + 1, added tokens included) and the padding token's id. */
export function readTokenizerFacts(dir: string): TokenizerFacts {
  const vocab = new Map<string, number>();
  const tokenizerJson = join(dir, 'tokenizer.json');
  if (existsSync(tokenizerJson)) {
    const t = readJson(tokenizerJson) as {
      model?: { vocab?: Record<string, number> | [string, number][] };
      added_tokens?: { id: number; content: string }[];
    };
    const modelVocab = t.model?.vocab;
    if (Array.isArray(modelVocab)) modelVocab.forEach(([token], id) => vocab.set(token, id)); // Unigram: [piece, score][]
    else if (modelVocab) for (const [token, id] of Object.entries(modelVocab)) vocab.set(token, id);
    for (const added of t.added_tokens ?? []) vocab.set(added.content, added.id);
  } else if (existsSync(join(dir, 'vocab.txt'))) {
    readFileSync(join(dir, 'vocab.txt'), 'utf8')
      .split('\n')
      .forEach((token, id) => token.length > 0 && vocab.set(token, id));
  } else {
    throw new ModelLoadError(`${dir} has neither tokenizer.json nor vocab.txt`);
  }
  if (vocab.size === 0) throw new ModelLoadError(`${dir}: the tokenizer has an empty vocabulary`);
  let vocabSize = 0;
  for (const id of vocab.values()) vocabSize = Math.max(vocabSize, id + 1);

  let padToken: string | undefined;
  const configPath = join(dir, 'tokenizer_config.json');
  if (existsSync(configPath)) {
    const pad = (readJson(configPath) as { pad_token?: string | { content: string } }).pad_token;
    padToken = typeof pad === 'string' ? pad : pad?.content;
  }
  const padTokenId = [padToken, '[PAD]', '<pad>']
    .map((t) => (t === undefined ? undefined : vocab.get(t)))
    .find((id) => id !== undefined);
  return { vocabSize, padTokenId: padTokenId ?? 0 };
}
