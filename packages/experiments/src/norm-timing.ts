// Timing normalizers' forward + backward: the request an analysis declares, and normkit's own timer of it.
import { Generator, create, randn, type Normalizer, type NormalizerName, type Tensor } from '@normkit/tensor';
import { timeInterleaved, type InterleavedTiming } from './presets/analysis';

/**
 * A timing an analysis declares: the same data through each normalizer, timed in interleaved rounds
 * (`timeInterleaved`: `warmup` calls of each, then `rounds` rounds of `calls` calls of each, the order
 * reversed every other round). A timer answers with one InterleavedTiming per shape, in order.
 */
export interface NormTimingRequest {
  /** Registered normalizers (default options, their affine parameters), each a task of the timing. */
  normalizers: readonly NormalizerName[];
  /** [rows, features] of the float32 input; each row is normalised over its features. */
  shapes: ReadonlyArray<readonly [number, number]>;
  /** One call: input and parameter gradients reset, forward, backward of a fixed upstream gradient. */
  pass: 'forward+backward';
  rounds: number;
  calls: number;
  warmup: number;
}

/**
 * Times a NormTimingRequest on some implementation's operations: normkit's (`normkitNormTimer`, what an
 * analysis uses when its resources have none), or another implementation's own, so that each is judged on its
 * own clock (the lab's PyTorch replication gives PyTorch's).
 */
export interface NormTimer {
  /** Whose operations are timed ('normkit', or the other implementation). */
  readonly implementation: string;
  /** `onRound(shape, round)` after each round where the timer can tell (normkit's does). */
  time(request: NormTimingRequest, onRound?: (shape: number, round: number) => void): InterleavedTiming[];
}

/** Forward + backward of a normalizer on fixed data, gradients reset first (no accumulation into old buffers). */
function forwardBackward(norm: Normalizer, x: Tensor, upstream: Tensor): () => void {
  const parameters = [...norm.parameters()];
  return () => {
    x.grad = null;
    for (const p of parameters) p.grad = null;
    norm.forward(x).backward(upstream);
  };
}

/** normkit's own normalizers (from the registry) timed on `now`, the analysis's clock. */
export function normkitNormTimer(now: () => number): NormTimer {
  return {
    implementation: 'normkit',
    time: (request, onRound) => request.shapes.map(([rows, features], index) => {
      const generator = new Generator(rows * 7919 + features);
      const x = randn([rows, features], { generator });
      x.requiresGrad = true;
      const upstream = randn([rows, features], { generator });
      const slot = { numFeatures: features, normalizedShape: [features] };
      const tasks = Object.fromEntries(request.normalizers.map((name) => [name, forwardBackward(create(name, slot, {}), x, upstream)]));
      const { rounds, calls, warmup } = request;
      return timeInterleaved(tasks, { rounds, calls, warmup, now, onRound: (round) => onRound?.(index, round) });
    }),
  };
}
