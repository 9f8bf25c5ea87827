import { castArray, type TypedArray } from './dtype';
import { ShapeError, formatShape } from './errors';
import { Tensor, checkTensor, isGradEnabled, type GraphNode } from './tensor';

export interface CustomOpSpec {
  /** Shown in errors and graph inspection, e.g. `batchNorm`. */
  op: string;
  inputs: readonly Tensor[];
  /** The forward result, already computed by the caller's kernel. */
  data: TypedArray;
  shape: readonly number[];
  /**
   * Maps the output gradient to one gradient per input (same shape as that input), or null.
   * Return fresh arrays or `gradOutput` itself; never an array the op keeps for later.
   */
  backward: (gradOutput: TypedArray) => ReadonlyArray<TypedArray | null>;
}

/**
 * The custom-function API (like `torch.autograd.Function`): wraps a kernel's output as ONE
 * graph node whose backward is the given analytic rule. Every op in the package is built on it.
 * The graph is recorded only when grad mode is on and some input requires a gradient.
 */
export function customOp(spec: CustomOpSpec): Tensor {
  // The last line of defence: every op records only tensors of this copy in the graph.
  for (let i = 0; i < spec.inputs.length; i++) checkTensor(spec.op, spec.inputs[i], `input ${i}`);
  const out = new Tensor(spec.data, spec.shape);
  if (isGradEnabled() && spec.inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    const node: GraphNode = { op: spec.op, inputs: spec.inputs, backward: spec.backward };
    out.node = node;
  }
  return out;
}

/** Tensors in reverse topological order, starting at `root`. */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative post-order DFS: deep graphs (long training loops unrolled) must not overflow the stack.
  const stack: Array<{ tensor: Tensor; next: number }> = [{ tensor: root, next: 0 }];
  visited.add(root);
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    const inputs = frame.tensor.node?.inputs ?? [];
    if (frame.next < inputs.length) {
      const child = inputs[frame.next++]!;
      if (child.requiresGrad && !visited.has(child)) {
        visited.add(child);
        stack.push({ tensor: child, next: 0 });
      }
    } else {
      order.push(frame.tensor);
      stack.pop();
    }
  }
  return order.reverse();
}

function accumulateInto(target: TypedArray, source: TypedArray): void {
  for (let i = 0; i < target.length; i++) target[i]! += source[i]!;
}

/** Reverse-mode sweep: accumulates gradients into the `.grad` of every leaf that requires one. */
export function runBackward(root: Tensor, seed: TypedArray): void {
  if (!root.requiresGrad) {
    throw new ShapeError({
      op: 'backward',
      expected: 'a tensor that requires grad (computed from a parameter or a tensor with requiresGrad)',
      given: `${root.toString()} with no graph`,
    });
  }
  const order = topologicalOrder(root);
  const grads = new Map<Tensor, TypedArray>();
  // Backward rules may return their gradOutput (or one array for several inputs): such arrays
  // are copied before anything accumulates into them.
  const owned = new Set<TypedArray>();
  grads.set(root, seed);
  for (const tensor of order) {
    const gradOutput = grads.get(tensor);
    if (gradOutput === undefined) continue;
    grads.delete(tensor);
    if (tensor.node === null || tensor.retainsGrad) {
      if (tensor.grad === null) {
        // Arrays in `grads` are owned by their entry (see below), except the caller's seed.
        const gradient = castArray(gradOutput, tensor.dtype);
        tensor.grad = new Tensor(gradient === seed ? gradient.slice() : gradient, tensor.shape);
      }
      else accumulateInto(tensor.grad.data, gradOutput);
      if (tensor.node === null) continue;
    }
    const node = tensor.node;
    const inputGrads = node.backward(gradOutput);
    for (let i = 0; i < node.inputs.length; i++) {
      const input = node.inputs[i]!;
      const g = inputGrads[i];
      if (!input.requiresGrad || g === null || g === undefined) continue;
      if (g.length !== input.size) {
        throw new ShapeError({
          op: `${node.op} (backward)`,
          expected: `a gradient of ${input.size} elements for input ${i} of shape ${formatShape(input.shape)}`,
          given: `${g.length} elements`,
        });
      }
      const existing = grads.get(input);
      if (existing === undefined) {
        let stored = castArray(g, input.dtype);
        if (stored === gradOutput || owned.has(stored)) stored = stored.slice();
        owned.add(stored);
        grads.set(input, stored);
      } else accumulateInto(existing, g);
    }
  }
}

/** Sets `.grad` of each tensor to null. */
export function zeroGrad(tensors: Iterable<Tensor>): void {
  for (const t of tensors) t.grad = null;
}

/** The op name of every recorded node reachable from `root`, one entry per node: used to assert fused kernels are one node. */
export function graphOps(root: Tensor): string[] {
  return topologicalOrder(root)
    .filter((t) => t.node !== null)
    .map((t) => t.node!.op);
}
