import type { ModulateArgs } from '../types';
import { forEachRunRow } from './reduce';

/**
 * out = x * (scale + offset) + shift, scale and shift broadcast along the runs marked summed (the
 * runs of a sum over the dims they lack): float64 arithmetic, rounded once into out.
 */
export function modulate(args: ModulateArgs): void {
  const { x, out, scale, shift, offset, sizes, reduced } = args;
  const inner = sizes[sizes.length - 1]!;
  if (reduced[sizes.length - 1]) {
    forEachRunRow(args, (base, o) => {
      const s = scale[o]! + offset;
      const t = shift === null ? 0 : shift[o]!;
      for (let i = base; i < base + inner; i++) out[i] = x[i]! * s + t;
    });
  } else {
    forEachRunRow(args, (base, o) => {
      for (let i = 0; i < inner; i++) out[base + i] = x[base + i]! * (scale[o + i]! + offset) + (shift === null ? 0 : shift[o + i]!);
    });
  }
}
