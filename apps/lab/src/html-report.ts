// The lab report as one self-contained HTML file: inline CSS and SVG, no scripts, no external assets.
import { describeSeedRule, formatValue, type CriterionResult, type PresetResult, type ResultTable, type Verdict } from '@normkit/experiments';
import type { LabReport } from './lab';
import { SEED_CLAIMS } from './seed-claims';
import { escapeXml as escapeHtml, renderChart } from './svg-chart';
import { torchClaimSection, torchSummary } from './torch-report';

const VERDICT_COLORS: Record<Verdict, string> = {
  reproduced: '#2e7d32',
  'partially reproduced': '#9a6700',
  'not reproduced': '#c62828',
  inconclusive: '#6a6a6a',
  unavailable: '#455a64',
  error: '#6a1b9a',
};

function badge(verdict: Verdict): string {
  return `<span class="badge" style="background:${VERDICT_COLORS[verdict]}">${escapeHtml(verdict)}</span>`;
}

/** A number as the report shows it; null/NaN as n/a. */
export function showNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return 'n/a';
  return formatValue(value);
}

function showCell(value: string | number | null): string {
  return typeof value === 'number' || value === null ? showNumber(value) : escapeHtml(value);
}

function table(result: ResultTable): string {
  const head = result.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const rows = result.rows.map((row) => `<tr>${row.map((cell) => `<td>${showCell(cell)}</td>`).join('')}</tr>`).join('');
  return `<table class="data"><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>`;
}

function held(criterion: CriterionResult): string {
  if (criterion.passed === null) return '<span class="na">not measurable</span>';
  return criterion.passed ? '<span class="yes">held</span>' : '<span class="no">did not hold</span>';
}

function criteriaTable(criteria: readonly CriterionResult[]): string {
  const rows = criteria
    .map(
      (c) =>
        `<tr><td>${c.kind === 'control' ? 'positive control' : 'claim'}</td><td>${escapeHtml(c.statement)}</td><td>${escapeHtml(c.metric)}</td>` +
        `<td class="num">${showNumber(c.measured)}${c.unit ? ` ${escapeHtml(c.unit)}` : ''}${c.detail ? `<div class="detail">${escapeHtml(c.detail)}</div>` : ''}</td>` +
        `<td class="num">${escapeHtml(c.comparison === '>=' ? '≥' : '≤')} ${showNumber(c.threshold)}${c.unit ? ` ${escapeHtml(c.unit)}` : ''}</td><td>${held(c)}</td></tr>`,
    )
    .join('');
  return `<table class="data"><thead><tr><th>kind</th><th>criterion</th><th>measured quantity</th><th>measured</th><th>threshold</th><th>result</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/**
 * Every criterion's value at every seed, with the median, the range and on how many seeds it held
 * (the verdict applies the preset's declared rule to these), and each seed's own verdict.
 */
function perSeedTable(claim: PresetResult): string {
  const head = `<th>criterion</th><th>threshold</th>${claim.seeds.map((s) => `<th>seed ${s}</th>`).join('')}<th>median</th><th>range</th><th>held on</th><th>result</th>`;
  const cell = (c: CriterionResult, value: number) => {
    const ok = Number.isNaN(value) ? null : c.comparison === '>=' ? value >= c.threshold : value <= c.threshold;
    return `<td class="num ${ok === null ? 'na' : ok ? 'yes' : 'no'}">${showNumber(value)}</td>`;
  };
  const rows = claim.criteria
    .map(
      (c) =>
        `<tr><td>${c.kind === 'control' ? '[control] ' : ''}${escapeHtml(c.statement)}</td><td class="num">${escapeHtml(c.comparison === '>=' ? '≥' : '≤')} ${showNumber(c.threshold)}</td>` +
        `${c.perSeed.map((v) => cell(c, v)).join('')}<td class="num">${showNumber(c.measured)}</td><td class="num">${showNumber(c.spread.min)} – ${showNumber(c.spread.max)}</td>` +
        `<td class="num">${c.heldOn} of ${c.perSeed.length}</td><td>${held(c)}</td></tr>`,
    )
    .join('');
  const verdicts = `<tr><td>verdict of the seed alone</td><td></td>${claim.perSeed.map((s) => `<td>${badge(s.verdict)}</td>`).join('')}<td colspan="4">${badge(claim.verdict)} over seeds (${escapeHtml(describeSeedRule(claim.seedRule))})</td></tr>`;
  return `<table class="data"><thead><tr>${head}</tr></thead><tbody>${rows}${verdicts}</tbody></table>`;
}

function seconds(ms: number): string {
  return ms >= 60_000 ? `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** One line per claim criterion: "measured vs threshold". */
function keyNumbers(claim: PresetResult): string {
  return claim.criteria
    .filter((c) => c.kind === 'claim')
    .map((c) => `${escapeHtml(c.metric)}: <b>${showNumber(c.measured)}</b> (${c.comparison === '>=' ? '≥' : '≤'} ${showNumber(c.threshold)}) ${c.passed === null ? '–' : c.passed ? '✓' : '✗'}`)
    .join('<br>');
}

function claimSection(claim: PresetResult, index: number, torch = ''): string {
  const charts = claim.charts.map((spec) => `<figure>${renderChart(spec, { idPrefix: `c${index}-` })}</figure>`).join('');
  const configs = claim.runs.map((run) => ({ id: run.id, label: run.label, role: run.role, status: run.status, reason: run.reason, config: run.config }));
  return `<section id="${escapeHtml(claim.name)}">
<h2>${index + 1}. ${escapeHtml(claim.title)} ${badge(claim.verdict)}</h2>
<p class="meta"><code>${escapeHtml(claim.name)}</code> · ${claim.seeds.length > 1 ? `seeds ${claim.seeds.join(', ')} (verdict: each criterion ${escapeHtml(describeSeedRule(claim.seedRule))})` : `seed ${claim.seed}`} · runtime ${seconds(claim.runtimeMs)} · ${claim.runs.length} training runs</p>
<blockquote>${escapeHtml(claim.claim.quote)}<footer>— ${escapeHtml(claim.claim.section)}, ${escapeHtml(claim.claim.source)}</footer></blockquote>
<p>${escapeHtml(claim.method)}</p>
<h3>Verdict</h3>
<p class="reason">${badge(claim.verdict)} ${escapeHtml(claim.reason)}</p>
${claim.missing.length ? `<p class="missing">Missing: ${escapeHtml(claim.missing.join(', '))}</p>` : ''}
${claim.error ? `<pre class="error">${escapeHtml(`${claim.error.name}: ${claim.error.message}`)}</pre>` : ''}
<h3>Criteria (declared in code before the run)${claim.seeds.length > 1 ? ': median over seeds' : ''}</h3>
${criteriaTable(claim.criteria)}
${claim.perSeed.length > 1 ? `<h3>Per seed${claim.seedDependent ? ' (the verdict depends on the seed)' : ''}</h3>${perSeedTable(claim)}` : ''}
${torch}
${charts ? `<h3>Charts</h3><div class="charts">${charts}</div>` : ''}
${claim.table ? `<h3>Configurations</h3>${table(claim.table)}` : ''}
${claim.tables.map((t) => `<h3>${escapeHtml(t.title)}</h3>${table(t.table)}`).join('')}
${claim.notes.length ? `<h3>Notes</h3><ul>${claim.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''}
${configs.length ? `<details><summary>Resolved configurations (JSON)</summary><pre>${escapeHtml(JSON.stringify(configs, null, 1))}</pre></details>` : ''}
</section>`;
}

/**
 * Each criterion of `claim` on one line: its values at every seed, their range and on how many seeds it held
 * ('control single-learns: 0.904, 0.779 (0.779 – 0.904; 1 of 2 ≥ 0.8)'); the seed-document table's per-seed column.
 */
export function perSeedSummary(claim: PresetResult): string {
  return claim.criteria
    .map((c) => {
      const values = c.perSeed.map((v) => showNumber(v)).join(', ');
      const spread = c.perSeed.length > 1 ? `${showNumber(c.spread.min)} – ${showNumber(c.spread.max)}; ` : '';
      return `${c.kind === 'control' ? 'control ' : ''}${escapeHtml(c.id)}: ${values} (${spread}${c.heldOn} of ${c.perSeed.length} ${c.comparison === '>=' ? '≥' : '≤'} ${showNumber(c.threshold)})`;
    })
    .join('<br>');
}

/** Every claim of the seed document with the experiments that test it (and their verdicts and per-seed values in this report), or why none does. */
function seedClaimsTable(report: LabReport): string {
  const byName = new Map(report.claims.map((c) => [c.name, c]));
  const rows = SEED_CLAIMS.map((entry) => {
    const tests = entry.presets
      .map((name) => {
        const result = byName.get(name);
        return result
          ? `<a href="#${escapeHtml(name)}"><code>${escapeHtml(name)}</code></a> ${badge(result.verdict)}<div class="detail">${perSeedSummary(result)}</div>`
          : `<code>${escapeHtml(name)}</code> <span class="na">(not run in this report)</span>`;
      })
      .join('<br>');
    return `<tr><td>${escapeHtml(entry.section)}</td><td>${escapeHtml(entry.claim)}</td><td>${tests || '<span class="na">none</span>'}</td><td>${entry.note ? escapeHtml(entry.note) : ''}</td></tr>`;
  }).join('');
  return `<table class="data"><thead><tr><th>section</th><th>claim</th><th>experiments (verdict; each criterion per seed, range, seeds held)</th><th>note</th></tr></thead><tbody>${rows}</tbody></table>`;
}

const STYLE = `
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0 auto; max-width: 1180px; padding: 16px 24px 48px; color: #222; line-height: 1.45; }
h1 { margin-bottom: 4px; } h2 { margin-top: 40px; border-top: 1px solid #ddd; padding-top: 16px; } h3 { margin: 20px 0 8px; font-size: 15px; }
.badge { display: inline-block; color: #fff; border-radius: 10px; padding: 1px 9px; font-size: 12px; font-weight: 600; vertical-align: middle; white-space: nowrap; }
.meta { color: #666; font-size: 13px; margin-top: -6px; }
blockquote { margin: 12px 0; padding: 8px 14px; border-left: 4px solid #4e79a7; background: #f5f8fc; font-style: italic; }
blockquote footer { font-style: normal; color: #555; font-size: 12px; margin-top: 4px; }
table.data { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
table.data th, table.data td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
table.data th { background: #f3f3f3; }
td.num { text-align: right; white-space: nowrap; }
.detail { color: #666; font-size: 11px; white-space: normal; max-width: 320px; }
.yes { color: #2e7d32; font-weight: 600; } .no { color: #c62828; font-weight: 600; } .na { color: #6a6a6a; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; } figure { margin: 0; border: 1px solid #eee; }
.warning { background: #fff4e5; border: 1px solid #f0c36d; padding: 8px 12px; }
.missing { color: #455a64; font-weight: 600; } pre.error { background: #fbeff2; padding: 8px; white-space: pre-wrap; }
details pre { font-size: 11px; max-height: 320px; overflow: auto; background: #fafafa; padding: 8px; }
.reason { font-size: 14px; }
`;

/**
 * The whole report: a summary table of verdicts with the key numbers, then one section per
 * claim (quote, method, criteria with measured values and thresholds, charts, configurations).
 */
export function renderReport(report: LabReport): string {
  const env = report.environment;
  const summaryRows = report.claims
    .map(
      (claim) =>
        `<tr><td><a href="#${escapeHtml(claim.name)}">${escapeHtml(claim.title)}</a></td><td>${badge(claim.verdict)}</td><td>${keyNumbers(claim) || escapeHtml(claim.reason)}</td>` +
        `<td class="num">${seconds(claim.runtimeMs)}</td><td class="num">${claim.seeds.join(', ')}${claim.seedDependent ? '<div class="detail">verdict depends on the seed</div>' : ''}</td></tr>`,
    )
    .join('');
  const counts = Object.entries(report.summary).map(([verdict, n]) => `${n} ${escapeHtml(verdict)}`).join(', ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>normkit claims lab${report.mode === 'reduced' ? ' (reduced)' : ''}</title><style>${STYLE}</style></head>
<body>
<h1>normkit claims lab</h1>
<p class="meta">${escapeHtml(report.createdAt)} · ${report.mode} mode · total ${seconds(report.runtimeMs)} · Node ${escapeHtml(env.node)} on ${escapeHtml(env.platform)}/${escapeHtml(env.arch)}, ${env.cpuCount} × ${escapeHtml(env.cpu)}</p>
${report.mode === 'reduced' ? '<p class="warning">Reduced mode: every experiment ran for a few steps on small data to prove it still runs. The verdicts below are not results; run <code>npm run lab</code> for those.</p>' : ''}
<p>Each experiment tests one claim quoted from the literature. Its configurations, seeds, step counts, pass thresholds and the rule that turns per-seed results into the verdict are fixed in code before it runs (<code>packages/experiments/src/presets/</code>); a positive control (a configuration known to train well on the same task) must pass, otherwise the verdict is <i>inconclusive</i> rather than <i>not reproduced</i>. Everything except timings is deterministic on the same machine. Verdicts: ${counts || 'none'}.</p>
<h2>Verdicts</h2>
<table class="data"><thead><tr><th>claim</th><th>verdict</th><th>measured (claim criteria)</th><th>runtime</th><th>seeds</th></tr></thead><tbody>${summaryRows}</tbody></table>
<h2>Every claim of the seed document</h2>
<p>Each claim of "Advanced Normalization Techniques", with the experiments that test it (each criterion's value at every seed, their range and on how many seeds it held), or why none does.</p>
${seedClaimsTable(report)}
${torchSummary(report, badge)}
${report.claims.map((claim, i) => claimSection(claim, i, torchClaimSection(report, claim.name, badge))).join('\n')}
<p class="meta">Made by @normkit/lab from report.json (same directory). Plugins registered: ${escapeHtml(env.plugins.join(', '))}.</p>
</body></html>
`;
}
