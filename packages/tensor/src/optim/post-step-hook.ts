import type { GradientEntry } from '../plugin/types';

/** What a post-step hook reports for one step (e.g. how many matrices it renormalised). */
export interface PostStepHookReport {
  [key: string]: number | string | boolean | undefined;
}

/**
 * Runs after the optimizer has updated the parameters (gradient transforms run before the
 * update): projections and constraints on the new values, such as nGPT's renormalisation of the
 * weight matrices onto the unit sphere after every step. `entries` are the parameters updated by
 * this step, with their names and owning modules; a hook changes `parameter.data` in place (the
 * optimizer bumps their versions afterwards). Skipped steps run no hook. A hook that throws
 * leaves the update applied (hooks run after it) and the later hooks unrun.
 */
export interface PostStepHook {
  readonly name: string;
  apply(entries: readonly GradientEntry[]): PostStepHookReport | void;
}
