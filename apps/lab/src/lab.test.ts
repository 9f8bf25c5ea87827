import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VERDICTS, presetSeeds, presets, type PresetResult } from '@normkit/experiments';
import { loadMnist } from '@normkit/experiments/mnist';
import { dataParallelRunner } from '@normkit/experiments/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLab, type LabReport } from './lab';
import { registerLabPlugins } from './plugins';
import { writeReport } from './report-files';

// Every experiment in its reduced form (a few steps on small data), through the same runLab and
// report writer as `npm run lab`: CI proves they all still run and report a verdict.
let report: LabReport;
let dir: string;
let files: { html: string; json: string };
const progressTypes = new Set<string>();

beforeAll(async () => {
  const plugins = registerLabPlugins();
  const mnist = await loadMnist();
  report = runLab({
    presets,
    mode: 'reduced',
    resources: { mnist, dataParallel: dataParallelRunner(2) },
    environment: { node: process.version, platform: 'test', arch: 'test', cpu: 'test', cpuCount: 1, plugins },
    onProgress: (event) => progressTypes.add(event.type),
  });
  dir = mkdtempSync(join(tmpdir(), 'normkit-lab-'));
  files = writeReport(report, dir);
}, 300_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the lab in reduced mode', () => {
  it('runs every experiment and gives each a verdict, a runtime and its seed', () => {
    expect(report.claims.map((c) => c.name)).toEqual(presets.map((p) => p.name));
    for (const claim of report.claims) {
      expect(VERDICTS).toContain(claim.verdict);
      // A crash is a bug, never a result; a missing plugin is reported as 'unavailable' with what is missing.
      expect(claim.verdict, `${claim.name}: ${claim.reason}`).not.toBe('error');
      if (claim.verdict === 'unavailable') expect(claim.missing.length).toBeGreaterThan(0);
      else expect(claim.runs.length).toBeGreaterThan(0);
      expect(claim.reason.length).toBeGreaterThan(0);
      expect(claim.runtimeMs).toBeGreaterThan(0);
      const preset = presets.find((p) => p.name === claim.name)!;
      expect(claim.seed).toBe(preset.seed);
      expect(claim.mode).toBe('reduced');
      // Reduced mode runs two seeds, so CI exercises the rule over seeds for every preset.
      expect(claim.seeds).toEqual(presetSeeds(preset, 'reduced'));
      expect(claim.seeds).toHaveLength(2);
      if (claim.verdict !== 'unavailable') {
        expect(claim.perSeed.map((s) => s.seed)).toEqual(claim.seeds);
        expect(new Set(claim.runs.map((r) => r.config.seed)).size).toBeGreaterThanOrEqual(2);
        for (const c of claim.criteria) expect(c.perSeed).toHaveLength(2);
      }
    }
    expect(Object.values(report.summary).reduce((a, b) => a + b, 0)).toBe(presets.length);
    for (const type of ['preset-start', 'run-start', 'run-progress', 'run-end', 'analysis', 'preset-end']) expect(progressTypes).toContain(type);
  });

  it('reports every declared criterion with its threshold and a measured value for every run experiment', () => {
    for (const claim of report.claims) {
      const preset = presets.find((p) => p.name === claim.name)!;
      expect(claim.criteria.map((c) => [c.id, c.threshold, c.comparison])).toEqual(preset.criteria.map((c) => [c.id, c.threshold, c.comparison]));
      if (claim.verdict === 'unavailable') continue;
      for (const c of claim.criteria) expect(typeof c.measured).toBe('number');
      expect(claim.charts.length).toBeGreaterThan(0);
    }
  });

  it('writes report.json (NaN as null) and one self-contained report.html made from it', () => {
    const json = JSON.parse(readFileSync(files.json, 'utf8')) as LabReport;
    expect(json.mode).toBe('reduced');
    expect(json.seedPass).toBe('reduced');
    expect(json.formatVersion).toBe(2);
    expect(json.claims).toHaveLength(presets.length);
    const first = json.claims[0] as PresetResult;
    expect(first.criteria[0]).toHaveProperty('threshold');
    expect(first.criteria[0]).toHaveProperty('measured');
    expect(first.runs[0]!.config.seed).toBe(first.seed);

    const html = readFileSync(files.html, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('Reduced mode');
    for (const claim of report.claims) expect(html).toContain(`id="${claim.name}"`);
    // The seed document's claims, each with its experiments or why none.
    expect(html).toContain('<h2>Every claim of the seed document</h2>');
    expect(html).toContain('aggressive gradient clipping (0.01-0.1) partially substitutes for normalization');
    // A per-seed table for every experiment that ran.
    expect(html.match(/<h3>Per seed/g)?.length).toBe(report.claims.filter((c) => c.perSeed.length > 1).length);
    // Real plots, inline: one <svg> per chart, no scripts, nothing fetched.
    const charts = report.claims.reduce((n, c) => n + c.charts.length, 0);
    expect(html.match(/<svg /g)?.length).toBe(charts);
    expect(html).toContain('<polyline');
    expect(html).not.toMatch(/<script|<link |<img |src=|@import|url\((?!#)/);
    expect(html.match(/https?:\/\/[^"]+/g)?.every((u) => u === 'http://www.w3.org/2000/svg')).toBe(true);
    // Clip-path ids are unique across the document.
    const ids = [...html.matchAll(/clipPath id="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
