import { MultiHeadAttention, Tensor, noGrad, type Module } from '@normkit/tensor';
import { ActivationTap, type ActivationStats } from './models/tap';

/** Running statistics of one normalizer (its `running_mean` and `running_var` buffers). */
export interface RunningStatsProbe {
  mean: number[];
  var: number[];
}

/** Internal quantities of the model, read by duck typing so new plugins show up without engine changes. */
export interface Probes {
  /** Modules with `running_mean` and `running_var` buffers (BatchNorm and friends), by module name. */
  runningStats: Record<string, RunningStatsProbe>;
  /** Modules with an `importance()` method (Switchable Norm's mixture weights), by module name. */
  importance: Record<string, JsonValue>;
  /** Modules with a numeric `sigma` (spectral norm's largest singular value estimate), by module name. */
  sigma: Record<string, number>;
  /** Every MultiHeadAttention's `lastMaxLogit`, by module name. */
  maxLogit: Record<string, number>;
}

export type JsonValue = number | string | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A JSON- and structured-clone-safe copy of whatever an `importance()` returns (tensors, typed arrays, records). */
export function toJsonValue(value: unknown): JsonValue {
  if (value instanceof Tensor) return toJsonValue(value.toArray());
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean' || value === null) return value;
  if (ArrayBuffer.isView(value) && 'length' in value) return Array.from(value as unknown as ArrayLike<number>);
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonValue(v)]));
  return value === undefined ? null : `[${typeof value}]`;
}

function numericOf(value: unknown): number | null {
  if (typeof value === 'number') return value;
  if (value instanceof Tensor && value.size === 1) return value.data[0]!;
  return null;
}

/** Reads every probe of `model` (no graph is recorded). */
export function collectProbes(model: Module): Probes {
  const probes: Probes = { runningStats: {}, importance: {}, sigma: {}, maxLogit: {} };
  noGrad(() => {
    for (const [name, module] of model.namedModules()) {
      const runningMean = module.getBuffer('running_mean');
      const runningVar = module.getBuffer('running_var');
      if (runningMean && runningVar) probes.runningStats[name] = { mean: Array.from(runningMean.data), var: Array.from(runningVar.data) };
      const withImportance = module as unknown as { importance?: unknown };
      if (typeof withImportance.importance === 'function') {
        probes.importance[name] = toJsonValue((withImportance.importance as () => unknown).call(module));
      }
      if ('sigma' in module) {
        const sigma = numericOf((module as unknown as { sigma: unknown }).sigma);
        if (sigma !== null) probes.sigma[name] = sigma;
      }
      if (module instanceof MultiHeadAttention) probes.maxLogit[name] = module.lastMaxLogit;
    }
  });
  return probes;
}

/** The display name of a tap: its owner's path ('layers.0'), or 'blocks.3' for the taps list of a block stack. */
export function tapName(path: string): string {
  return path.replace(/\.tap$/, '').replace(/(^|\.)taps\./, '$1blocks.');
}

export function activationTaps(model: Module): Array<[string, ActivationTap]> {
  return [...model.namedModules()].filter((entry): entry is [string, ActivationTap] => entry[1] instanceof ActivationTap);
}

export function setRecording(model: Module, recording: boolean): void {
  for (const [, tap] of activationTaps(model)) {
    tap.recording = recording;
    if (recording) tap.last = null;
  }
}

export function readActivations(model: Module): Record<string, ActivationStats> {
  const stats: Record<string, ActivationStats> = {};
  for (const [path, tap] of activationTaps(model)) if (tap.last) stats[tapName(path)] = tap.last;
  return stats;
}

/** The layer a parameter belongs to: its module path, with a parametrization's inner path folded into its layer. */
export function layerOf(parameterName: string): string {
  const parametrized = parameterName.indexOf('.parametrizations.');
  if (parametrized >= 0) return parameterName.slice(0, parametrized);
  const dot = parameterName.lastIndexOf('.');
  return dot < 0 ? '' : parameterName.slice(0, dot);
}

/** L2 norm of the gradients of each layer's parameters together (float64 accumulation). */
export function gradientNorms(model: Module): Record<string, number> {
  const squares = new Map<string, number>();
  for (const [name, parameter] of model.namedParameters()) {
    if (!parameter.grad) continue;
    const g = parameter.grad.data;
    let total = 0;
    for (let i = 0; i < g.length; i++) total += g[i]! * g[i]!;
    const layer = layerOf(name);
    squares.set(layer, (squares.get(layer) ?? 0) + total);
  }
  return Object.fromEntries([...squares].map(([layer, total]) => [layer, Math.sqrt(total)]));
}

/** A saved copy of every buffer, to undo the running-average updates of an exploratory train-mode pass. */
export type BufferSnapshot = Array<{ module: Module; name: string; tensor: Tensor; data: Float32Array | Float64Array }>;

/**
 * Copies of every buffer's data, with its owner and name: normalizers may update a buffer in place
 * or replace it (`setBuffer`), and `restoreBuffers` undoes both.
 */
export function snapshotBuffers(model: Module): BufferSnapshot {
  const snapshot: BufferSnapshot = [];
  for (const [, module] of model.namedModules()) {
    for (const [name, tensor] of module.namedBuffers()) {
      if (name.includes('.')) continue; // a descendant's buffer: recorded with its own module
      snapshot.push({ module, name, tensor, data: tensor.data.slice() });
    }
  }
  return snapshot;
}

export function restoreBuffers(snapshot: BufferSnapshot): void {
  for (const { module, name, tensor, data } of snapshot) {
    tensor.data.set(data);
    if (module.getBuffer(name) !== tensor) module.setBuffer(name, tensor);
  }
}
