import { Dropout, Flatten, Identity, Sequential } from '@normkit/tensor';
import type { Dim } from '../proto';
import { defineLowering } from '../registry';

/** Sequential: each child lowered in turn under its index ('0', '1', ...), as in the state dict. */
export const sequentialLowering = defineLowering({
  loweringVersion: 'v1',
  module: Sequential,
  lower(module, [x], ctx) {
    let y = x!;
    for (const [name, child] of module.namedChildren()) y = ctx.lower(child, [y], name);
    return y;
  },
});

/** Identity and Dropout (the identity in eval mode, which is what is exported) add no node. */
export const identityLowering = defineLowering({ loweringVersion: 'v1', module: Identity, lower: (_m, [x]) => x! });
export const dropoutLowering = defineLowering({ loweringVersion: 'v1', module: Dropout, lower: (_m, [x]) => x! });

function product(dims: readonly Dim[]): Dim {
  return dims.every((d) => typeof d === 'number') ? (dims as number[]).reduce((p, d) => p * d, 1) : '';
}

/**
 * Flatten(startDim, endDim): ONNX `Flatten(axis)` when it ends at the last dim and starts at 1
 * (ONNX's Flatten always gives rank 2), otherwise a Reshape that copies the leading dims (0) and
 * infers the flattened one (-1), which needs the trailing dims to be static.
 */
export const flattenLowering = defineLowering({
  loweringVersion: 'v1',
  module: Flatten,
  lower(module, [x], ctx) {
    const rank = Math.max(x!.shape.length, 1);
    const start = module.startDim < 0 ? module.startDim + rank : module.startDim;
    const end = module.endDim < 0 ? module.endDim + rank : module.endDim;
    const shape = [...x!.shape.slice(0, start), product(x!.shape.slice(start, end + 1)), ...x!.shape.slice(end + 1)];
    if (x!.shape.length === 0) return ctx.node('Reshape', [x!, ctx.int64s([1])], [1]);
    if (start === end) return x!;
    if (start === 1 && end === rank - 1) return ctx.node('Flatten', [x!], shape, { axis: { type: 'int', value: 1 } });
    const trailing = x!.shape.slice(end + 1);
    if (!trailing.every((d) => typeof d === 'number')) {
      throw ctx.unsupported('static dims after endDim', `shape [${x!.shape.join(', ')}] with endDim ${module.endDim}`);
    }
    const target = [...Array<number>(start).fill(0), -1, ...(trailing)];
    return ctx.node('Reshape', [x!, ctx.int64s(target)], shape);
  },
});
