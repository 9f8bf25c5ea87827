import type { SumArgs, SumRuns } from '../types';

/**
 * The walk shared by the sum and its adjoint: `x` (dense, row-major over `runs.sizes`) visited as rows
 * of the innermost run, each with the offset of its first kept element in the reduced array.
 * `visit(xBase, outBase)` gets one row; rows come in memory order.
 */
export function forEachRunRow(runs: SumRuns, visit: (xBase: number, outBase: number) => void): void {
  const { sizes } = runs;
  const last = sizes.length - 1;
  const inner = sizes[last]!;
  let rows = 1;
  for (let r = 0; r < last; r++) rows *= sizes[r]!;
  if (rows === 0 || inner === 0) return;
  const strides = keptStrides(runs);
  const counter = new Array<number>(last).fill(0);
  let outBase = 0;
  for (let row = 0; row < rows; row++) {
    visit(row * inner, outBase);
    for (let r = last - 1; r >= 0; r--) {
      counter[r]!++;
      outBase += strides[r]!;
      if (counter[r]! < sizes[r]!) break;
      outBase -= strides[r]! * sizes[r]!;
      counter[r] = 0;
    }
  }
}

/** How many elements the reduced array has: the product of the kept runs' sizes. */
export function keptSize(runs: SumRuns): number {
  let kept = 1;
  runs.sizes.forEach((size, r) => {
    if (!runs.reduced[r]) kept *= size;
  });
  return kept;
}

/** Stride of each run in the reduced array: 0 for a summed run, else the product of the kept sizes inside it. */
export function keptStrides(runs: SumRuns): number[] {
  const { sizes, reduced } = runs;
  const strides = new Array<number>(sizes.length).fill(0);
  let stride = 1;
  for (let r = sizes.length - 1; r >= 0; r--) {
    if (reduced[r]) continue;
    strides[r] = stride;
    stride *= sizes[r]!;
  }
  return strides;
}

/** out[kept] += sum of x over the reduced runs, in float64, each output summed in memory order. */
export function sum(args: SumArgs): void {
  const { x, out, sizes, reduced } = args;
  const inner = sizes[sizes.length - 1]!;
  if (reduced[sizes.length - 1]) {
    forEachRunRow(args, (xBase, outBase) => {
      let total = 0;
      for (let i = 0; i < inner; i++) total += x[xBase + i]!;
      out[outBase]! += total;
    });
  } else {
    forEachRunRow(args, (xBase, outBase) => {
      for (let i = 0; i < inner; i++) out[outBase + i]! += x[xBase + i]!;
    });
  }
}
