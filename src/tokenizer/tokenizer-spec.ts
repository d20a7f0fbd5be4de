/**
 * Reads a model directory's tokenizer files and decides how to tokenize: natively (BERT
 * WordPiece: BertNormalizer + BertPreTokenizer + WordPiece + the [CLS] q [SEP] d [SEP]
 * template) or through Hugging Face `tokenizers` (everything else: BPE, Unigram, other
 * normalizers or templates).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { ModelLoadError } from '../errors.js';
import type { NativeWordPieceConfig } from '../native/binding.js';

export interface WordPieceSpec {
  kind: 'wordpiece';
  vocab: string[];
  config: NativeWordPieceConfig;
  clsId: number;
  sepId: number;
  padId: number;
}

export interface HfTokenizerSpec {
  kind: 'hf';
  tokenizerJson: string;
  padId: number;
  /** Why the native path does not apply (for `doctor`-style reporting). */
  reason: string;
}

export type TokenizerSpec = WordPieceSpec | HfTokenizerSpec;

interface TokenizerJson {
  added_tokens?: { id: number; content: string; single_word?: boolean; lstrip?: boolean; rstrip?: boolean; normalized?: boolean; special?: boolean }[];
  normalizer?: { type: string; clean_text?: boolean; handle_chinese_chars?: boolean; strip_accents?: boolean | null; lowercase?: boolean } | null;
  pre_tokenizer?: { type: string } | null;
  post_processor?: {
    type: string;
    sep?: [string, number];
    cls?: [string, number];
    pair?: ({ SpecialToken?: { id: string; type_id: number }; Sequence?: { id: 'A' | 'B'; type_id: number } })[];
    special_tokens?: Record<string, { id: string; ids: number[] }>;
  } | null;
  model?: { type: string; unk_token?: string; continuing_subword_prefix?: string; max_input_chars_per_word?: number; vocab?: Record<string, number> };
}

function readJson<T>(path: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (error) {
    throw new ModelLoadError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

function vocabById(vocab: Record<string, number>, extra: { id: number; content: string }[] = []): string[] {
  const list: string[] = [];
  for (const [token, id] of Object.entries(vocab)) list[id] = token;
  for (const t of extra) if (list[t.id] === undefined) list[t.id] = t.content;
  for (let i = 0; i < list.length; i++) if (list[i] === undefined) list[i] = '';
  return list;
}

/** [CLS] $A [SEP] $B:1 [SEP]:1 (as TemplateProcessing or BertProcessing): the ids of CLS and SEP. */
function bertTemplate(post: TokenizerJson['post_processor'], vocab: Record<string, number>): { cls: number; sep: number } | string {
  if (!post) return 'no post_processor (no [CLS]/[SEP] template)';
  if (post.type === 'BertProcessing' && post.cls && post.sep) return { cls: post.cls[1], sep: post.sep[1] };
  if (post.type !== 'TemplateProcessing' || !post.pair) return `post_processor ${post.type}`;
  const p = post.pair;
  const shape = p.map((x) => (x.SpecialToken ? `S${x.SpecialToken.type_id}` : `${x.Sequence?.id}${x.Sequence?.type_id}`)).join(' ');
  if (shape !== 'S0 A0 S0 B1 S1') return `pair template ${shape}`;
  const idOf = (name: string) => post.special_tokens?.[name]?.ids?.[0] ?? vocab[name];
  const cls = idOf(p[0].SpecialToken!.id);
  const sep = idOf(p[2].SpecialToken!.id);
  if (cls === undefined || sep === undefined || idOf(p[4].SpecialToken!.id) !== sep) return 'template special tokens';
  return { cls, sep };
}

/** The padding token named by tokenizer_config.json, if any. */
function configuredPadToken(dir: string): string | undefined {
  const path = join(dir, 'tokenizer_config.json');
  if (!existsSync(path)) return undefined;
  const pad = readJson<{ pad_token?: string | { content?: string } | null }>(path).pad_token;
  return typeof pad === 'string' ? pad : pad?.content ?? undefined;
}

function fromTokenizerJson(path: string): TokenizerSpec {
  const t = readJson<TokenizerJson>(path);
  const added = t.added_tokens ?? [];
  const vocab = t.model?.vocab && !Array.isArray(t.model.vocab) ? t.model.vocab : {};
  const idOf = (token: string | undefined) =>
    token === undefined ? undefined : added.find((a) => a.content === token)?.id ?? vocab[token];
  const padId = idOf(configuredPadToken(dirname(path))) ?? idOf('[PAD]') ?? idOf('<pad>') ?? 0;
  const hf = (reason: string): HfTokenizerSpec => ({ kind: 'hf', tokenizerJson: path, padId, reason });
  const model = t.model;
  if (!model || model.type !== 'WordPiece' || !model.vocab) return hf(`model ${model?.type ?? 'missing'}`);
  if (t.normalizer && t.normalizer.type !== 'BertNormalizer') return hf(`normalizer ${t.normalizer.type}`);
  if (!t.pre_tokenizer || t.pre_tokenizer.type !== 'BertPreTokenizer') return hf(`pre_tokenizer ${t.pre_tokenizer?.type ?? 'none'}`);
  if (added.some((a) => a.normalized && !(a.content in model.vocab!))) return hf('normalized added tokens');
  const template = bertTemplate(t.post_processor, model.vocab);
  if (typeof template === 'string') return hf(template);
  const n = t.normalizer;
  const lowercase = n ? n.lowercase ?? true : false;
  return {
    kind: 'wordpiece',
    vocab: vocabById(model.vocab, added),
    clsId: template.cls,
    sepId: template.sep,
    padId,
    config: {
      cleanText: n ? n.clean_text ?? true : false,
      handleChineseChars: n ? n.handle_chinese_chars ?? true : false,
      // strip_accents: null means "follow lowercase", as in tokenizers.
      stripAccents: n ? n.strip_accents ?? lowercase : false,
      lowercase,
      unkToken: model.unk_token ?? '[UNK]',
      continuingSubwordPrefix: model.continuing_subword_prefix ?? '##',
      maxInputCharsPerWord: model.max_input_chars_per_word ?? 100,
      // Non-normalized added tokens are matched in the raw text; normalized ones that are
      // plain vocabulary entries come out of WordPiece the same way.
      addedTokens: added
        .filter((a) => !a.normalized)
        .map((a) => ({ content: a.content, id: a.id, lstrip: !!a.lstrip, rstrip: !!a.rstrip, singleWord: !!a.single_word })),
    },
  };
}

/** vocab.txt + tokenizer_config.json, as transformers' BertTokenizer(Fast) reads them. */
function fromVocabTxt(dir: string): WordPieceSpec {
  const vocab = readFileSync(join(dir, 'vocab.txt'), 'utf8').replace(/\r?\n$/, '').split(/\r?\n/);
  const configPath = join(dir, 'tokenizer_config.json');
  const config = existsSync(configPath)
    ? readJson<{ do_lower_case?: boolean; strip_accents?: boolean | null; tokenize_chinese_chars?: boolean }>(configPath)
    : {};
  const lowercase = config.do_lower_case ?? true;
  const index = new Map<string, number>();
  vocab.forEach((token, id) => !index.has(token) && index.set(token, id));
  const special = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  for (const token of ['[UNK]', '[CLS]', '[SEP]']) {
    if (!index.has(token)) throw new ModelLoadError(`${join(dir, 'vocab.txt')} has no ${token} token`);
  }
  return {
    kind: 'wordpiece',
    vocab,
    clsId: index.get('[CLS]')!,
    sepId: index.get('[SEP]')!,
    padId: index.get('[PAD]') ?? 0,
    config: {
      cleanText: true,
      handleChineseChars: config.tokenize_chinese_chars ?? true,
      stripAccents: config.strip_accents ?? lowercase,
      lowercase,
      unkToken: '[UNK]',
      continuingSubwordPrefix: '##',
      maxInputCharsPerWord: 100,
      addedTokens: special
        .filter((t) => index.has(t))
        .map((content) => ({ content, id: index.get(content)!, lstrip: false, rstrip: false, singleWord: false })),
    },
  };
}

/** The tokenizer of a model directory: tokenizer.json, else vocab.txt (+ tokenizer_config.json). */
export function readTokenizerSpec(dir: string): TokenizerSpec {
  const json = join(dir, 'tokenizer.json');
  if (existsSync(json)) return fromTokenizerJson(json);
  if (existsSync(join(dir, 'vocab.txt'))) return fromVocabTxt(dir);
  throw new ModelLoadError(`${dir} has no tokenizer (tokenizer.json or vocab.txt)`);
}
