import { customOp } from '../autograd';
import { allocate, sameShape } from '../dtype';
import { OptionError, ShapeError, ValueError, formatShape } from '../errors';
import { Tensor, checkTensor } from '../tensor';

export type Reduction = 'mean' | 'sum' | 'none';

function checkReduction(op: string, reduction: Reduction): void {
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    throw new OptionError({ op, expected: "reduction 'mean', 'sum' or 'none'", given: `'${String(reduction)}'` });
  }
}

function classIds(op: string, targets: Tensor | readonly number[], count: number, numClasses: number): Int32Array {
  if (!Array.isArray(targets)) checkTensor(op, targets, 'targets (a Tensor or an array of class ids)');
  const values = targets instanceof Tensor ? targets.data : targets;
  if (values.length !== count) {
    throw new ShapeError({ op, expected: `${count} targets (one per row)`, given: `${values.length}` });
  }
  const ids = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
      throw new ValueError({ op, expected: `integer class ids in [0, ${numClasses - 1}]`, given: `${v} at position ${i}` });
    }
    ids[i] = v;
  }
  return ids;
}

/**
 * Cross entropy of logits [N, C] against integer class ids [N], fused with log-softmax
 * (like `torch.nn.functional.cross_entropy`).
 */
export function crossEntropy(
  logits: Tensor,
  targets: Tensor | readonly number[],
  options: { reduction?: Reduction; labelSmoothing?: number } = {},
): Tensor {
  checkTensor('crossEntropy', logits, 'logits');
  if (logits.ndim !== 2) {
    throw new ShapeError({ op: 'crossEntropy', expected: 'logits of shape [N, C]', given: formatShape(logits.shape) });
  }
  const reduction = options.reduction ?? 'mean';
  checkReduction('crossEntropy', reduction);
  const smoothing = options.labelSmoothing ?? 0;
  if (smoothing < 0 || smoothing > 1) {
    throw new ValueError({ op: 'crossEntropy', expected: 'labelSmoothing in [0, 1]', given: `${smoothing}` });
  }
  const [n, c] = logits.shape as [number, number];
  const ids = classIds('crossEntropy', targets, n, c);
  const logProbs = new Float64Array(n * c);
  const losses = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let j = 0; j < c; j++) max = Math.max(max, logits.data[i * c + j]!);
    let total = 0;
    for (let j = 0; j < c; j++) total += Math.exp(logits.data[i * c + j]! - max);
    const logTotal = Math.log(total) + max;
    let smoothTerm = 0;
    for (let j = 0; j < c; j++) {
      const lp = logits.data[i * c + j]! - logTotal;
      logProbs[i * c + j] = lp;
      smoothTerm += lp;
    }
    losses[i] = -(1 - smoothing) * logProbs[i * c + ids[i]!]! - (smoothing / c) * smoothTerm;
  }
  const scale = reduction === 'mean' ? 1 / n : 1;
  const data = allocate(logits.dtype, reduction === 'none' ? n : 1);
  if (reduction === 'none') data.set(losses);
  else data[0] = losses.reduce((a, b) => a + b, 0) * scale;
  return customOp({
    op: 'crossEntropy',
    inputs: [logits],
    data,
    shape: reduction === 'none' ? [n] : [],
    backward: (g) => {
      const gx = allocate(logits.dtype, n * c);
      for (let i = 0; i < n; i++) {
        const upstream = (reduction === 'none' ? g[i]! : g[0]!) * scale;
        for (let j = 0; j < c; j++) {
          const target = (j === ids[i] ? 1 - smoothing : 0) + smoothing / c;
          gx[i * c + j] = upstream * (Math.exp(logProbs[i * c + j]!) - target);
        }
      }
      return [gx];
    },
  });
}

function checkPair(op: string, a: Tensor, b: Tensor, names: readonly [string, string] = ['prediction', 'target']): void {
  checkTensor(op, a, names[0]);
  checkTensor(op, b, names[1]);
  if (!sameShape(a.shape, b.shape)) {
    throw new ShapeError({ op, expected: 'prediction and target of one shape', given: `${formatShape(a.shape)} and ${formatShape(b.shape)}` });
  }
}

/** Mean squared error (like `torch.nn.functional.mse_loss`). */
export function mse(prediction: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  checkPair('mse', prediction, target);
  const reduction = options.reduction ?? 'mean';
  checkReduction('mse', reduction);
  const n = prediction.size;
  const scale = reduction === 'mean' ? 1 / n : 1;
  const diff = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    diff[i] = prediction.data[i]! - target.data[i]!;
    total += diff[i]! * diff[i]!;
  }
  const data = allocate(prediction.dtype, reduction === 'none' ? n : 1);
  if (reduction === 'none') for (let i = 0; i < n; i++) data[i] = diff[i]! * diff[i]!;
  else data[0] = total * scale;
  return customOp({
    op: 'mse',
    inputs: [prediction, target],
    data,
    shape: reduction === 'none' ? prediction.shape : [],
    backward: (g) => {
      const gp = allocate(prediction.dtype, n);
      const gt = allocate(target.dtype, n);
      for (let i = 0; i < n; i++) {
        const v = 2 * diff[i]! * (reduction === 'none' ? g[i]! : g[0]! * scale);
        gp[i] = v;
        gt[i] = -v;
      }
      return [gp, gt];
    },
  });
}

/** Binary cross entropy on logits, computed stably (like `binary_cross_entropy_with_logits`). */
export function binaryCrossEntropyWithLogits(logits: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  checkPair('binaryCrossEntropyWithLogits', logits, target, ['logits', 'target']);
  const reduction = options.reduction ?? 'mean';
  checkReduction('binaryCrossEntropyWithLogits', reduction);
  const n = logits.size;
  const scale = reduction === 'mean' ? 1 / n : 1;
  const losses = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = logits.data[i]!;
    const y = target.data[i]!;
    losses[i] = Math.max(x, 0) - x * y + Math.log1p(Math.exp(-Math.abs(x)));
  }
  const data = allocate(logits.dtype, reduction === 'none' ? n : 1);
  if (reduction === 'none') data.set(losses);
  else data[0] = losses.reduce((a, b) => a + b, 0) * scale;
  return customOp({
    op: 'binaryCrossEntropyWithLogits',
    inputs: [logits, target],
    data,
    shape: reduction === 'none' ? logits.shape : [],
    backward: (g) => {
      const gx = allocate(logits.dtype, n);
      const gy = allocate(target.dtype, n);
      for (let i = 0; i < n; i++) {
        const x = logits.data[i]!;
        const upstream = reduction === 'none' ? g[i]! : g[0]! * scale;
        const s = x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
        gx[i] = upstream * (s - target.data[i]!);
        gy[i] = -upstream * x;
      }
      return [gx, gy];
    },
  });
}
