/**
 * The rows of a batch by prompt prefix (an LLM reranker's frame, instruction and query),
 * for the backends that run each distinct prefix once and continue it for every row.
 */
import type { PairEncodings } from '../tokenizer/pair-tokenizer.js';

export interface PrefixGroup {
  /** The shared prefix's ids (empty: the rows run whole). */
  prefix: Int32Array;
  /** Key of the prefix: its ids joined. */
  key: string;
  /** Positions in `rows` of the group's rows, in batch order. */
  at: number[];
  /** Each row's ids after the prefix. */
  rest: Int32Array[];
}

/**
 * Groups pairs[rows[i]] by prefix, in order of first appearance. A row keeps at least its last
 * token (the answer is read there). Without `share` or prefix lengths, every row runs whole.
 */
export function prefixGroups(pairs: PairEncodings, rows: Int32Array, share: boolean): PrefixGroup[] {
  const groups = new Map<string, PrefixGroup>();
  rows.forEach((r, i) => {
    const ids = pairs.ids.subarray(pairs.offsets[r], pairs.offsets[r + 1]);
    const length = share && pairs.prefixLengths ? Math.max(0, Math.min(pairs.prefixLengths[r], ids.length - 1)) : 0;
    const prefix = ids.subarray(0, length);
    const key = prefix.join(',');
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { prefix, key, at: [], rest: [] }));
    group.at.push(i);
    group.rest.push(ids.subarray(length));
  });
  return [...groups.values()];
}
