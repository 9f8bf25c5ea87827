// The report's PyTorch parts (`npm run lab -- --torch`): which presets were replicated and whether the two
// implementations agree, and per preset the criteria measured by both, side by side.
import type { Verdict } from '@normkit/experiments';
import { formatValue } from '@normkit/experiments';
import type { LabReport } from './lab';
import { escapeXml as escapeHtml } from './svg-chart';
import { VALUE_TOLERANCE, type CriterionAgreement, type TorchReplication } from './torch-replicate';

type Badge = (verdict: Verdict) => string;

const show = (value: number): string => (Number.isNaN(value) ? 'n/a' : formatValue(value));

const AGREEMENT_CLASS: Record<CriterionAgreement['agreement'], string> = { agree: 'yes', 'values differ': 'na', 'seeds differ': 'na', disagree: 'no' };

function agreementCell(replication: TorchReplication): string {
  if (replication.status !== 'replicated') return `<span class="na">${escapeHtml(replication.status)}</span>`;
  return replication.verdictsAgree ? '<span class="yes">agree</span>' : '<span class="no">DISAGREE</span>';
}

/**
 * Every preset of the report: replicated in PyTorch or not (and why), both verdicts and whether they
 * agree. Without `--torch`, a line saying how to get it.
 */
export function torchSummary(report: LabReport, badge: Badge): string {
  const section = report.torch;
  if (!section) {
    return '<h2>Second implementation (PyTorch)</h2><p class="na">Not run for this report: <code>npm run lab -- --torch</code> trains every preset whose model, normalizers and gradient transforms exist in normkit-torch again in PyTorch, from the same declared configuration, and shows both side by side here.</p>';
  }
  const rows = section.replications.map((r) =>
    `<tr><td><a href="#${escapeHtml(r.preset)}"><code>${escapeHtml(r.preset)}</code></a></td><td>${escapeHtml(r.status)}</td><td>${badge(r.normkitVerdict)}</td>` +
    `<td>${r.torchVerdict ? badge(r.torchVerdict) : '<span class="na">–</span>'}</td><td>${agreementCell(r)}</td><td>${escapeHtml(r.reason)}</td></tr>`).join('');
  const replicated = section.replications.filter((r) => r.status === 'replicated');
  const disagreeing = replicated.filter((r) => !r.verdictsAgree).map((r) => r.preset);
  return `<h2>Second implementation (PyTorch)</h2>
<p>Each preset's runs were exported with their declared configuration (the exact samples, the initial weights as safetensors, the batch order, optimizer and schedule as a training bundle) and trained again in PyTorch ${escapeHtml(section.torchVersion)} by <code>python -m normkit_torch.lab</code> (${escapeHtml(section.python)}); PyTorch returns the raw series (per-step losses and evaluations) and its trained weights (with a run's traced steps' where its trace has no PyTorch measure), which are loaded into the same normkit model wherever an analysis or trace reads the model; the preset's own analysis, criteria and seed rule turn them into quantities and a verdict, exactly as for normkit. A criterion agrees when it holds on the same seeds in both and its values are within ${VALUE_TOLERANCE.absolute} + ${VALUE_TOLERANCE.relative * 100}% of normkit's (else: values differ); <i>seeds differ</i> when its result over seeds is the same but some seed lands on the other side of the threshold in one of them; <i>disagree</i> when its result over seeds differs. The verdicts agree when they are equal and no criterion disagrees. ${replicated.length} of ${section.replications.length} presets replicated${disagreeing.length ? `; <b>the implementations disagree on ${disagreeing.map((n) => `<code>${escapeHtml(n)}</code>`).join(', ')}</b>` : replicated.length ? '; every replicated verdict agrees' : ''}. PyTorch part: ${(section.runtimeMs / 1000).toFixed(1)} s.</p>
<table class="data"><thead><tr><th>experiment</th><th>PyTorch</th><th>normkit verdict</th><th>PyTorch verdict</th><th>agreement</th><th>detail</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function criterionRows(c: CriterionAgreement, seeds: readonly number[]): string {
  const perSeed = seeds.map((_, s) => `${show(c.normkit.perSeed[s]!)} / ${show(c.torch.perSeed[s]!)}`).join('<br>');
  const held = (x: CriterionAgreement['normkit']) => (x.passed === null ? '<span class="na">n/a</span>' : x.passed ? '<span class="yes">held</span>' : '<span class="no">did not hold</span>');
  return `<tr><td>${c.kind === 'control' ? '[control] ' : ''}${escapeHtml(c.statement)}</td><td class="num">${c.comparison === '>=' ? '≥' : '≤'} ${show(c.threshold)}</td>` +
    `<td class="num">${perSeed}</td><td class="num">${show(c.normkit.measured)} ${held(c.normkit)}</td><td class="num">${show(c.torch.measured)} ${held(c.torch)}</td>` +
    `<td class="num">${show(c.maxDifference)}</td><td class="${AGREEMENT_CLASS[c.agreement]}">${escapeHtml(c.agreement)}${c.seedsDiffering.length ? ` (seeds ${c.seedsDiffering.join(', ')})` : ''}</td></tr>`;
}

/** What PyTorch's analysis said with its measured quantities, seed by seed (e.g. the timings behind a ratio). */
function torchDetails(r: TorchReplication): string {
  const rows = r.perSeed.flatMap((s) => Object.entries(s.torchDetails).map(([id, detail]) =>
    `<tr><td>${s.seed}</td><td>${escapeHtml(r.criteria.find((c) => c.id === id)?.statement ?? id)}</td><td>${escapeHtml(detail)}</td></tr>`));
  return rows.length ? `<details><summary>PyTorch's analysis, per seed (the details behind its measured values)</summary><table class="data"><thead><tr><th>seed</th><th>criterion</th><th>PyTorch</th></tr></thead><tbody>${rows.join('')}</tbody></table></details>` : '';
}

/** The preset's PyTorch replication inside its section (empty without `--torch`). */
export function torchClaimSection(report: LabReport, preset: string, badge: Badge): string {
  const r = report.torch?.replications.find((x) => x.preset === preset);
  if (!r) return '';
  if (r.status !== 'replicated') return `<h3>PyTorch</h3><p class="na">Not replicated in PyTorch: ${escapeHtml(r.reason)}</p>`;
  const criteria = r.criteria.map((c) => criterionRows(c, r.seeds)).join('');
  const seeds = r.perSeed.map((s) => `<td>${badge(s.normkit)} / ${badge(s.torch)}</td>`).join('');
  const runs = r.runs.map((run) =>
    `<tr><td>${run.seed}</td><td>${escapeHtml(run.label)}</td><td>${escapeHtml(run.normkit.status)} / ${escapeHtml(run.torch.status)}</td>` +
    `<td class="num">${show(run.normkit.finalTestAccuracy)} / ${show(run.torch.finalTestAccuracy)}</td><td class="num">${show(run.normkit.firstLoss)} / ${show(run.torch.firstLoss)}</td>` +
    `<td class="num">${show(run.normkit.lastLoss)} / ${show(run.torch.lastLoss)}</td></tr>`).join('');
  return `<h3>PyTorch (second implementation) ${agreementCell(r)}</h3>
<p class="reason">normkit ${badge(r.normkitVerdict)} · PyTorch ${r.torchVerdict ? badge(r.torchVerdict) : ''} — ${escapeHtml(r.reason)}</p>
<table class="data"><thead><tr><th>criterion</th><th>threshold</th><th>per seed (normkit / PyTorch)</th><th>normkit</th><th>PyTorch</th><th>largest difference</th><th>agreement</th></tr></thead><tbody>${criteria}
<tr><td>verdict of each seed (normkit / PyTorch)</td><td></td><td colspan="5"><table><tr>${seeds}</tr></table></td></tr></tbody></table>
${torchDetails(r)}<details><summary>Runs side by side (status, final test accuracy, first and last training-loss window: normkit / PyTorch)</summary><table class="data"><thead><tr><th>seed</th><th>run</th><th>status</th><th>test accuracy</th><th>first loss</th><th>last loss</th></tr></thead><tbody>${runs}</tbody></table></details>`;
}
