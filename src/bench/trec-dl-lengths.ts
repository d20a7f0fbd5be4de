/**
 * Token lengths (bert-base-uncased, no special tokens) of real TREC DL 2019 passages — the
 * BM25 top-100 of the 43 queries, 4,297 distinct passages — as percentiles 0..100, and of
 * the 43 queries. `crossrank bench` draws documents with these lengths, so its numbers
 * reflect real passage lengths without shipping the collection.
 */
export const PASSAGE_LENGTH_PERCENTILES = [
  19, 31, 37, 39, 41, 42, 44, 46, 47, 48, 49, 50, 51, 51, 52, 53, 54, 54, 55, 56, 56, 57, 58, 58, 59, 59, 60, 60, 61, 61,
  62, 63, 64, 64, 65, 65, 66, 66, 67, 68, 68, 69, 69, 70, 71, 71, 72, 73, 73, 74, 75, 76, 76, 77, 78, 79, 80, 81, 82, 83,
  85, 86, 88, 89, 91, 92, 94, 95, 97, 99, 100, 102, 103, 105, 106, 108, 110, 111, 113, 114, 116, 118, 120, 122, 123, 125,
  128, 130, 132, 135, 136, 139, 142, 144, 146, 152, 156, 163, 171, 183, 258,
];

export const QUERY_LENGTHS = [
  4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 8, 9, 9, 9, 10, 10, 10, 12,
  12, 12, 13,
];
