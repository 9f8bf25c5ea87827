// Which cases a run times (`--only`), shared by the bench's parent process and its normkit timer.
import * as families from './cases/index';
import { defaultTiming, type BenchCase, type TimingOptions } from './harness';

export interface SelectedCase {
  family: string;
  benchCase: BenchCase;
  timing: TimingOptions;
}

/** The cases whose "family/name" contains one of the comma-separated substrings of `only` (all for null), with their baselines. */
export function selectCases(only: string | null): SelectedCase[] {
  const selected: SelectedCase[] = [];
  for (const [family, list] of Object.entries(families)) {
    const wanted = only === null ? null : only.split(',').map((part) => part.trim().toLowerCase()).filter((part) => part !== '');
    const matches = (benchCase: BenchCase) => wanted === null || wanted.some((part) => `${family}/${benchCase.name}`.toLowerCase().includes(part));
    // A selected case's baseline is selected too, so its overhead ratio can be reported.
    const baselines = new Set(list.filter(matches).map((benchCase) => benchCase.baseline).filter((name) => name !== undefined));
    for (const benchCase of list) {
      if (!matches(benchCase) && !baselines.has(benchCase.name)) continue;
      selected.push({ family, benchCase, timing: { ...defaultTiming, ...benchCase.timing } });
    }
  }
  return selected;
}

