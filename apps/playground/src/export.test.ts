import { createTrainer, decodeConfig, resolveConfig } from '@normkit/experiments';
import { beforeAll, describe, expect, it } from 'vitest';
import { RUN_COLORS, defaultDraft } from './drafts';
import { CSV_HEADER, evalMetrics, resultsToCsv, resultsToJson, type ExportRun, type JsonExport } from './export';
import { registerPlugins } from './plugins';
import { chartDefinitions, chartLines } from './series';
import { escapeXml, niceTicks, renderChartSvg } from './svg';

let runs: ExportRun[];

beforeAll(() => {
  registerPlugins();
  const config = resolveConfig({ ...defaultDraft('batch-norm'), steps: 6, evalEvery: 3, evalSamples: 32, batchSize: 8 });
  const trainer = createTrainer(config);
  trainer.runToEnd();
  const failed = resolveConfig({ ...defaultDraft('batch-norm'), steps: 6, batchSize: 1 });
  const failing = createTrainer(failed);
  failing.runToEnd();
  runs = [
    { label: 'A', description: 'batch-norm', config, status: trainer.status, history: { ...trainer.history } },
    { label: 'B', description: 'batch-norm at batch 1', config: failed, status: failing.status, history: { ...failing.history } },
  ];
});

function parseCsv(text: string): string[][] {
  // Enough for this test: quoted fields may hold commas and doubled quotes, not newlines.
  return text.trim().split('\n').map((line) => {
    const fields: string[] = [];
    let field = '';
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!;
      if (quoted && c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = !quoted;
      else if (c === ',' && !quoted) {
        fields.push(field);
        field = '';
      } else field += c;
    }
    fields.push(field);
    return fields;
  });
}

describe('exports', () => {
  it('writes every run with its config, link string and events as JSON', () => {
    const json = JSON.parse(resultsToJson(runs, 'http://localhost/#run=x', new Date('2026-01-02T03:04:05Z'))) as JsonExport;
    expect(json).toMatchObject({ format: 'normkit-playground-results', version: 1, exportedAt: '2026-01-02T03:04:05.000Z', url: 'http://localhost/#run=x' });
    expect(json.runs.map((r) => [r.label, r.status, r.steps.length, r.evals.length])).toEqual([
      ['A', 'done', 6, 2],
      ['B', 'failed', 0, 0],
    ]);
    expect(decodeConfig(json.runs[0]!.encodedConfig)).toEqual(runs[0]!.config);
    expect(json.runs[1]!.end).toMatchObject({ type: 'failed', step: 1, error: { name: 'ValueError' } });
  });

  it('writes one CSV row per number, quoting messages', () => {
    const rows = parseCsv(resultsToCsv(runs));
    expect(rows[0]).toEqual([...CSV_HEADER]);
    expect(rows.every((r) => r.length === 6)).toBe(true);
    const stepLosses = rows.filter((r) => r[0] === 'A' && r[1] === 'step' && r[4] === 'loss');
    expect(stepLosses.map((r) => Number(r[5]))).toEqual(runs[0]!.history.steps.map((s) => s.loss));
    const evalRows = rows.filter((r) => r[0] === 'A' && r[1] === 'eval' && r[2] === '3');
    expect(evalRows).toHaveLength(evalMetrics(runs[0]!.history.evals[0]!).length);
    expect(evalRows.find((r) => r[4] === 'runningStats.layers.0.norm.batch-norm.var.31')).toBeDefined();
    expect(rows.find((r) => r[0] === 'A' && r[1] === 'done')).toEqual(['A', 'done', '6', '', 'elapsedMs', expect.any(String) as unknown]);
    const failed = rows.find((r) => r[0] === 'B' && r[1] === 'failed')!;
    expect(failed.slice(0, 5)).toEqual(['B', 'failed', '1', '', 'ValueError']);
    expect(failed[5]).toMatch(/^BatchNorm\.forward: expected more than 1 value per channel/);
  });
});

describe('SVG charts', () => {
  it('picks round ticks', () => {
    expect(niceTicks(0, 0.93, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(1, 2000, 6)).toEqual([500, 1000, 1500, 2000]);
    expect(niceTicks(-1.2, 1.2, 4)).toEqual([-1, 0, 1]);
    expect(niceTicks(3, 3)).toEqual([3]);
  });

  it('draws every line in its colour and style, with a legend and escaped text', () => {
    const lines = chartLines(chartDefinitions.find((c) => c.id === 'loss')!, [{ index: 0, label: 'A', color: RUN_COLORS[0], task: 'classification', history: runs[0]!.history }]);
    const svg = renderChartSvg({ title: 'Loss <train & test>', lines });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('Loss &lt;train &amp; test&gt;');
    const paths = svg.match(/<path d="M[^"]+" stroke="[^"]+"[^>]*>/g)!;
    expect(paths).toHaveLength(2);
    expect(paths[0]).toContain(`stroke="${RUN_COLORS[0]}"`);
    expect(paths[1]).toContain('stroke-dasharray');
    expect(svg).toContain('>A test</text>');
    expect(svg).toContain('>A train</text>');
    expect(escapeXml('"a" & <b>')).toBe('&quot;a&quot; &amp; &lt;b&gt;');
  });

  it('breaks lines at missing values, uses powers of ten on a log axis, and says when there is no data', () => {
    const line = { key: 'k', name: 'k', label: 'k', run: 0, color: '#123456', x: [1, 2, 3, 4], y: [0.01, Number.NaN, 1, 100] };
    const svg = renderChartSvg({ title: 'log', log: true, lines: [line] });
    const d = /<path d="([^"]+)"/.exec(svg)![1]!;
    expect(d.match(/M/g)).toHaveLength(2); // a new segment after the missing value
    expect(svg).toContain('>1e0</text>');
    expect(svg).toContain('>1e-2</text>');
    expect(renderChartSvg({ title: 'empty', lines: [] })).toContain('no data yet');
  });
});
