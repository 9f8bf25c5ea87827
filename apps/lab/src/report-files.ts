import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderReport } from './html-report';
import { reportJson, type LabReport } from './lab';

/** Writes `report.json` and the `report.html` made from it into `dir` (created if needed); returns both paths. */
export function writeReport(report: LabReport, dir: string): { html: string; json: string } {
  mkdirSync(dir, { recursive: true });
  const paths = { html: join(dir, 'report.html'), json: join(dir, 'report.json') };
  writeFileSync(paths.json, reportJson(report));
  writeFileSync(paths.html, renderReport(report));
  return paths;
}
