// The whole playground state lives in the URL fragment, one `run=` entry per run, each the
// engine's shareable config string (`encodeConfig`): `#run=v1.WzEs...&run=v1.WzEs...`.
// The fragment never reaches a server, and changing it does not reload the page.
import { decodeConfig, encodeConfig, type ExperimentConfig } from '@normkit/experiments';
import { MAX_RUNS, errorMessage } from './drafts';

export interface UrlState {
  /** The runs that could be read, in order. */
  configs: ExperimentConfig[];
  /** One readable message per part of the link that could not be used. */
  errors: string[];
}

/**
 * Reads the runs of a URL fragment (with or without its '#'). Each run is decoded on its own, so a
 * damaged entry costs only that run; every problem becomes a message naming the run and saying
 * what is wrong (the engine's `decodeConfig`/`resolveConfig` message).
 *
 * @example
 * readUrlState('#run=v1.WzEs...').configs.length; // 1
 */
export function readUrlState(hash: string): UrlState {
  const text = hash.startsWith('#') ? hash.slice(1) : hash;
  const state: UrlState = { configs: [], errors: [] };
  if (text.trim() === '') return state;
  const params = new URLSearchParams(text);
  let position = 0;
  for (const [key, value] of params) {
    if (key !== 'run') {
      state.errors.push(`The link has an unknown part "${key}" (only run=... entries are understood); it was ignored.`);
      continue;
    }
    position++;
    if (position > MAX_RUNS) {
      state.errors.push(`The link has more than ${MAX_RUNS} runs; run ${position} and later were not loaded.`);
      break;
    }
    try {
      state.configs.push(decodeConfig(value));
    } catch (error) {
      state.errors.push(`Run ${position} of the link could not be loaded: ${errorMessage(error)}`);
    }
  }
  return state;
}

/** The fragment (with '#') that reproduces these runs. */
export function writeUrlState(configs: readonly ExperimentConfig[]): string {
  const params = new URLSearchParams();
  for (const config of configs) params.append('run', encodeConfig(config));
  return `#${params.toString()}`;
}
