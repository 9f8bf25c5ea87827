import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../result';

/** A check a suite will run: its name, a title saying what it proves, and the plain function behind it. */
export interface PlannedCheck<Name extends string = string> {
  readonly name: Name;
  readonly title: string;
  /** Why it is skipped (from the config's `skip`), or undefined. */
  readonly skipped?: string;
  readonly run: () => CheckResult;
}

/** Wraps planned checks in a vitest `describe`, one `it` per check; a failed check fails with its message. */
export function describeChecks(title: string, plan: () => readonly PlannedCheck[]): void {
  describe(title, () => {
    let checks: readonly PlannedCheck[];
    try {
      checks = plan();
    } catch (error) {
      // A plugin that cannot even be built with the given options fails visibly, not silently.
      it('builds the plugin with the given options', () => {
        throw error;
      });
      return;
    }
    for (const check of checks) {
      if (check.skipped !== undefined) {
        it.skip(`${check.name}: ${check.title} (skipped: ${check.skipped})`, () => {});
        continue;
      }
      it(`${check.name}: ${check.title}`, () => {
        const result = check.run();
        if (!result.ok) expect.fail(result.message);
      });
    }
  });
}

/** Runs the checks that are not skipped. */
export function runPlanned(checks: readonly PlannedCheck[]): CheckResult[] {
  return checks.filter((check) => check.skipped === undefined).map((check) => check.run());
}
