/**
 * A reranking workload with real TREC DL lengths: queries and documents built from common
 * English words that are one WordPiece token each, so a text of n words is n tokens.
 */
import { Rng } from '../util/rng.js';
import { PASSAGE_LENGTH_PERCENTILES, QUERY_LENGTHS } from './trec-dl-lengths.js';

const WORDS = (
  'the of and to in is was for on that with as by at from his an are were which be this has or had not but its also ' +
  'first new one all after their two been time they he may other more most some into only over such when years would ' +
  'used city world between state during where about three known then these well school team her many out both later ' +
  'under while made system part since she up however him through each number before called because use being can ' +
  'film year season high early no area so series house long found there last became him war game could people'
).split(' ');

export interface Workload {
  queries: string[];
  docs: string[][];
}

function text(rng: Rng, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(rng.uniform() * WORDS.length)]);
  return out.join(' ');
}

/** `queries` queries with `docsPerQuery` documents each; lengths drawn from TREC DL 2019. */
export function trecDlWorkload(queries: number, docsPerQuery: number, seed = 1): Workload {
  const rng = new Rng(seed, 7);
  const percentile = () => PASSAGE_LENGTH_PERCENTILES[Math.floor(rng.uniform() * PASSAGE_LENGTH_PERCENTILES.length)];
  const out: Workload = { queries: [], docs: [] };
  for (let q = 0; q < queries; q++) {
    out.queries.push(text(rng, QUERY_LENGTHS[q % QUERY_LENGTHS.length]));
    out.docs.push(Array.from({ length: docsPerQuery }, () => text(rng, percentile())));
  }
  return out;
}
