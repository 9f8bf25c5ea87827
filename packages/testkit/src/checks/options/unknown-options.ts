import { OptionError } from '@normkit/tensor';
import { checkResult, describeError, type CheckResult } from '../../result';
import { describeChecks, type PlannedCheck } from '../describe';

/**
 * One constructor or helper under test: the name its errors open with (`GroupNorm`, `weightNorm`)
 * and a build that passes valid options plus the `extra` keys.
 */
export type OptionsBuilder = readonly [name: string, build: (extra: Record<string, unknown>) => unknown];

export interface UnknownOptionsConfig {
  /** A regular-expression source the accepted-keys list must match (default `.+`: any non-empty list). */
  readonly acceptedKeys?: string;
  /** Also require that a build with no extra key succeeds (default true). */
  readonly buildsWithoutExtra?: boolean;
}

/** The key every check offers; no module accepts it. */
const UNKNOWN_KEY = 'bogusKey';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Checks that `build` refuses an unknown option key with an OptionError whose message is
 * `<name>: expected options among <accepted keys>, got unknown option "bogusKey"` (an unknown key
 * would otherwise be ignored silently), and, unless `buildsWithoutExtra` is false, that it builds
 * when no extra key is given (so the refusal is about the key, not the other options).
 */
export function checkUnknownOptions(name: string, build: OptionsBuilder[1], config: UnknownOptionsConfig = {}): CheckResult {
  const failures: string[] = [];
  if (config.buildsWithoutExtra ?? true) {
    try {
      build({});
    } catch (error) {
      failures.push(`builds with no extra key: threw ${describeError(error)}`);
    }
  }
  const pattern = new RegExp(`^${escapeRegExp(name)}: expected options among ${config.acceptedKeys ?? '.+'}, got unknown option "${UNKNOWN_KEY}"`);
  let thrown: unknown;
  let threw = false;
  try {
    build({ [UNKNOWN_KEY]: 1 });
  } catch (error) {
    thrown = error;
    threw = true;
  }
  if (!threw) {
    failures.push(`an unknown key "${UNKNOWN_KEY}": built without throwing (the key would be silently ignored)`);
  } else if (!(thrown instanceof OptionError)) {
    failures.push(`an unknown key "${UNKNOWN_KEY}": expected an OptionError, threw ${describeError(thrown)}`);
  } else if (!pattern.test(thrown.message)) {
    failures.push(`an unknown key "${UNKNOWN_KEY}": expected a message matching ${pattern}, got ${JSON.stringify(thrown.message)}`);
  }
  return checkResult('unknown-options', failures, `${name} refuses an unknown key, naming itself, the key and the accepted keys`);
}

/** One planned check per builder, named after it. */
export function planUnknownOptionsChecks(builders: readonly OptionsBuilder[], config: UnknownOptionsConfig = {}): PlannedCheck[] {
  return builders.map(([name, build]) => ({
    name,
    title: 'an unknown key is an OptionError naming the module, the key and the accepted keys',
    run: () => checkUnknownOptions(name, build, config),
  }));
}

/**
 * Generates a vitest suite: every constructor or helper listed refuses an option key it does not
 * know, with an OptionError naming the module, the key and the accepted keys (see
 * `checkUnknownOptions`), one test per builder.
 *
 * @example
 * describeUnknownOptions([
 *   ['GroupNorm', (extra) => new GroupNorm({ numGroups: 1, numChannels: 2, ...extra })],
 *   ['weightNorm', (extra) => weightNorm(new Linear({ inFeatures: 3, outFeatures: 2 }), { ...extra })],
 * ]);
 */
export function describeUnknownOptions(builders: readonly OptionsBuilder[], config: UnknownOptionsConfig = {}): void {
  describeChecks('constructors refuse unknown option keys (@normkit/testkit)', () => planUnknownOptionsChecks(builders, config));
}
