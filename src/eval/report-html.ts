/**
 * One self-contained HTML page for an eval-pipeline report: tables and inline SVG charts,
 * no scripts, no external resources, so it opens anywhere and can be attached to a ticket.
 */
import type { PipelineReport } from './pipeline-eval.js';

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const f4 = (x: number) => x.toFixed(4);

/** Per-query nDCG@10 change, sorted: green bars up (wins), red down (losses). */
function diffChart(r: PipelineReport): string {
  const diffs = r.perQuery.map((q) => ({ qid: q.qid, d: q.reranked - q.stage1 })).sort((a, b) => b.d - a.d);
  const w = 720, h = 220, mid = h / 2, bw = Math.max(2, Math.floor((w - 40) / Math.max(1, diffs.length)));
  const max = Math.max(0.05, ...diffs.map((x) => Math.abs(x.d)));
  const bars = diffs
    .map((x, i) => {
      const len = (Math.abs(x.d) / max) * (mid - 10);
      const y = x.d >= 0 ? mid - len : mid;
      const color = x.d > 1e-9 ? '#2e7d32' : x.d < -1e-9 ? '#c62828' : '#9e9e9e';
      return `<rect x="${30 + i * bw}" y="${y.toFixed(1)}" width="${bw - 1}" height="${Math.max(1, len).toFixed(1)}" fill="${color}"><title>${escapeHtml(x.qid)}: ${x.d >= 0 ? '+' : ''}${f4(x.d)}</title></rect>`;
    })
    .join('');
  return `<svg viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="nDCG@10 change per query">
<line x1="28" y1="${mid}" x2="${w - 8}" y2="${mid}" stroke="#555"/>
<text x="2" y="14" font-size="11">+${max.toFixed(2)}</text><text x="2" y="${h - 4}" font-size="11">-${max.toFixed(2)}</text>${bars}</svg>`;
}

/** Reranker score histograms: relevant (blue) over non-relevant (orange), each normalised. */
function scoreChart(r: PipelineReport): string {
  const dist = r.scoreDistributions;
  if (!dist) return '<p>No judged documents among the reranked candidates.</p>';
  const w = 720, h = 200, bins = dist.relevant.counts.length, bw = (w - 40) / bins;
  const norm = (c: number[]) => {
    const total = c.reduce((a, b) => a + b, 0) || 1;
    return c.map((x) => x / total);
  };
  const rel = norm(dist.relevant.counts), non = norm(dist.nonRelevant.counts);
  const top = Math.max(0.01, ...rel, ...non);
  const series = (values: number[], color: string, offset: number) =>
    values
      .map((v, i) => `<rect x="${(30 + i * bw + offset).toFixed(1)}" y="${(h - 20 - (v / top) * (h - 30)).toFixed(1)}" width="${(bw / 2 - 1).toFixed(1)}" height="${((v / top) * (h - 30)).toFixed(1)}" fill="${color}"/>`)
      .join('');
  return `<svg viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="score distributions">
<line x1="28" y1="${h - 20}" x2="${w - 8}" y2="${h - 20}" stroke="#555"/>
${series(non, '#ef6c00', 0)}${series(rel, '#1565c0', bw / 2)}
<text x="30" y="${h - 4}" font-size="11">${dist.relevant.min.toPrecision(3)}</text>
<text x="${w - 60}" y="${h - 4}" font-size="11">${dist.relevant.max.toPrecision(3)}</text>
<rect x="${w - 230}" y="6" width="10" height="10" fill="#1565c0"/><text x="${w - 215}" y="15" font-size="11">relevant</text>
<rect x="${w - 140}" y="6" width="10" height="10" fill="#ef6c00"/><text x="${w - 125}" y="15" font-size="11">non-relevant</text></svg>`;
}

export function renderReportHtml(r: PipelineReport, title = 'crossrank eval-pipeline'): string {
  const recall = `recall.${r.topK}`;
  const fmt = (l: { p50: number; p95: number } | null) => (l ? `${l.p50.toFixed(1)} / ${l.p95.toFixed(1)}` : '');
  const row = (name: string, m: Record<string, number>, latency: string) =>
    `<tr><th>${name}</th><td>${f4(m['ndcg_cut.10'])}</td><td>${f4(m['mrr.10'])}</td><td>${f4(m[recall])}</td><td>${latency}</td></tr>`;
  const c = r.ndcg10;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:780px;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{padding:.3rem .7rem;border-bottom:1px solid #ddd;text-align:right}
th:first-child{text-align:left}h2{margin-top:2rem;font-size:1.1rem}.note{color:#555}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p class="note">${r.queries} queries, top-${r.topK} candidates reranked, relevance level ${r.relevanceLevel}.</p>
<table><thead><tr><th>stage</th><th>nDCG@10</th><th>MRR@10</th><th>Recall@${r.topK}</th><th>latency p50 / p95 ms</th></tr></thead><tbody>
${row('stage 1', r.stage1.metrics, fmt(r.stage1.latencyMs))}
${row('reranked', r.reranked.metrics, fmt(r.reranked.latencyMs))}
</tbody></table>
<h2>Is the reranker helping?</h2>
<p>nDCG@10 per query: <b>${c.wins}</b> wins, <b>${c.losses}</b> losses, <b>${c.ties}</b> ties. Mean difference ${f4(c.meanDifference)}, 95% paired bootstrap interval ${f4(c.ci95[0])} .. ${f4(c.ci95[1])}${c.ci95[0] > 0 ? ' (an improvement)' : c.ci95[1] < 0 ? ' (a regression)' : ' (not distinguishable from no change)'}.</p>
${diffChart(r)}
<h2>Recall ceiling</h2>
<p>Stage 1 retrieved ${r.recallCeiling.retrieved} of ${r.recallCeiling.relevant} judged relevant documents (${(100 * r.recallCeiling.share).toFixed(1)}%); ${r.recallCeiling.missed} can never be reranked into the results.</p>
<h2>Order change</h2>
<p>Kendall's tau between the stage-1 and reranked orders of the candidates, mean over queries: ${r.kendallTau.toFixed(3)}.</p>
<h2>Reranker scores</h2>
${scoreChart(r)}
${r.documentsWithoutText ? `<p class="note">${r.documentsWithoutText} candidates had no text and kept their stage-1 order.</p>` : ''}
</body></html>
`;
}
