import { recycle } from './buffer-pool';
import { castArray, type TypedArray } from './dtype';
import { AutogradError, ShapeError, formatShape } from './errors';
import { Tensor, checkTensor, isGradEnabled, type GraphNode } from './tensor';

export interface CustomOpSpec {
  /** Shown in errors and graph inspection, e.g. `batchNorm`. */
  op: string;
  inputs: readonly Tensor[];
  /**
   * The tensors whose values `backward` reads (default: every input). Their versions are recorded
   * now, and backward refuses to run if one was modified in place since (the output's too).
   * Pass `[]` for an op whose backward reads no input, like `add`.
   */
  saved?: readonly Tensor[];
  /** The forward result, already computed by the caller's kernel. */
  data: TypedArray;
  shape: readonly number[];
  /**
   * Maps the output gradient to one gradient per input (same shape as that input), or null.
   * Return fresh arrays or `gradOutput` itself; never an array the op keeps for later.
   */
  backward: (gradOutput: TypedArray) => ReadonlyArray<TypedArray | null>;
}

export interface BackwardOptions {
  /**
   * Keep the graph for another backward (PyTorch's `retain_graph`). By default the graph is freed:
   * backward through it again throws an AutogradError.
   */
  retainGraph?: boolean;
}

/** What a recorded node keeps to check, at backward time, that its saved tensors are unchanged. */
interface RecordedNode extends GraphNode {
  readonly saved: readonly Tensor[];
  readonly versions: readonly number[];
  /** Checksums of the saved tensors' data (and the output's, last), in debug mode only. */
  readonly checksums: readonly number[] | null;
  output: Tensor | null;
  outputVersion: number;
  released: boolean;
}

let debugChecksums = readDebugEnvironment();

function readDebugEnvironment(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const value = env?.NORMKIT_AUTOGRAD_DEBUG;
  return value !== undefined && value !== '' && value !== '0' && value !== 'false';
}

/**
 * Debug mode for in-place writes the version counters cannot see (`t.data[i] = v`): every op
 * checksums the data of the tensors it saves for backward, and backward refuses one whose
 * checksum changed. Off by default (it reads every saved tensor twice); also switched on by the
 * environment variable NORMKIT_AUTOGRAD_DEBUG=1.
 */
export function setAutogradDebug(enabled: boolean): void {
  debugChecksums = enabled;
}

export function isAutogradDebug(): boolean {
  return debugChecksums;
}

/** FNV-1a over the bytes of the values: cheap, and any changed bit changes it (with high probability). */
function checksum(data: TypedArray): number {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let hash = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  return hash >>> 0;
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
    const saved = spec.saved ?? spec.inputs;
    const node: RecordedNode = {
      op: spec.op,
      inputs: spec.inputs,
      backward: spec.backward,
      saved,
      versions: saved.map((t) => t.version),
      checksums: debugChecksums ? [...saved.map((t) => checksum(t.data)), checksum(out.data)] : null,
      output: out,
      outputVersion: out.version,
      released: false,
    };
    out.node = node;
  }
  return out;
}

/** Throws when a saved tensor of `node` changed since the op recorded it (PyTorch's in-place check). */
function checkSaved(node: RecordedNode): void {
  const modified = (t: Tensor, version: number, expected: number): never => {
    throw new AutogradError(
      {
        op: `${node.op} (backward)`,
        expected: 'tensors saved for backward to be unchanged',
        given: `one of them modified in place after it was saved for backward: ${t.toString()} is at version ${version}; expected version ${expected}`,
      },
      'An in-place change (optimizer step, init fill, loadStateDict, assigning .data) happened between the forward and this backward; do it after backward, or recompute the forward',
    );
  };
  node.saved.forEach((t, i) => {
    if (t.version !== node.versions[i]) modified(t, t.version, node.versions[i]!);
  });
  if (node.output !== null && node.output.version !== node.outputVersion) modified(node.output, node.output.version, node.outputVersion);
  if (node.checksums !== null) {
    const tensors = node.output === null ? node.saved : [...node.saved, node.output];
    tensors.forEach((t, i) => {
      if (checksum(t.data) !== node.checksums![i]) {
        throw new AutogradError(
          {
            op: `${node.op} (backward)`,
            expected: 'tensors saved for backward to be unchanged',
            given: `the data of ${t.toString()} changed after it was saved for backward (autograd debug checksum)`,
          },
          'Something wrote into .data directly between the forward and this backward; call bumpVersion() after such writes, or move them after backward',
        );
      }
    });
  }
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
export function runBackward(root: Tensor, seed: TypedArray, options: BackwardOptions = {}): void {
  if (!root.requiresGrad) {
    throw new ShapeError({
      op: 'backward',
      expected: 'a tensor that requires grad (computed from a parameter or a tensor with requiresGrad)',
      given: `${root.toString()} with no graph`,
    });
  }
  const order = topologicalOrder(root);
  // Check the whole graph before any gradient accumulates: a refused backward changes no `.grad`.
  for (const tensor of order) {
    const node = tensor.node as RecordedNode | null;
    if (node === null) continue;
    if (node.released) {
      throw new AutogradError(
        {
          op: 'backward',
          expected: 'a graph that was not freed by an earlier backward',
          given: `a second backward through ${node.op}`,
        },
        'Pass { retainGraph: true } to the first backward to backpropagate through the same graph again (PyTorch\'s retain_graph)',
      );
    }
    if (node.saved !== undefined) checkSaved(node);
  }
  const grads = new Map<Tensor, TypedArray>();
  // Backward rules may return their gradOutput (or one array for several inputs): such arrays
  // are copied before anything accumulates into them.
  const owned = new Set<TypedArray>();
  // Buffers behind the graph's tensors (inputs and outputs of every node, the leaves' .grad): a
  // rule that hands one of them back as a gradient must never see it recycled.
  const graphBuffers = new Set<ArrayBufferLike>();
  for (const tensor of order) {
    graphBuffers.add(tensor.data.buffer);
    if (tensor.grad !== null) graphBuffers.add(tensor.grad.data.buffer);
    for (const input of tensor.node?.inputs ?? []) graphBuffers.add(input.data.buffer);
  }
  /**
   * Gives a consumed gradient back to the caching allocator when only the engine held it: stored by
   * the engine, not the caller's seed, not a tensor's data, and no pending gradient shares its buffer.
   */
  const recycleConsumed = (gradient: TypedArray) => {
    if (!owned.has(gradient) || graphBuffers.has(gradient.buffer)) return;
    for (const pending of grads.values()) if (pending.buffer === gradient.buffer) return;
    owned.delete(gradient);
    recycle(gradient);
  };
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
      else {
        accumulateInto(tensor.grad.data, gradOutput);
        // A leaf is done with it; a retained intermediate still passes it to its node below.
        if (tensor.node === null) recycleConsumed(gradOutput);
      }
      if (tensor.node === null) continue;
    }
    const node = tensor.node;
    const inputGrads = node.backward(gradOutput);
    if (!options.retainGraph) release(node as RecordedNode);
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
    // A retained tensor's first .grad may be this very array: it is then in graphBuffers' sense the
    // user's, so only non-retained intermediates give theirs back.
    if (!tensor.retainsGrad) recycleConsumed(gradOutput);
  }
}

/** Frees what a node keeps for backward (its closure holds the saved arrays); the node stays for inspection. */
function release(node: RecordedNode): void {
  node.released = true;
  node.backward = () => {
    throw new AutogradError({ op: 'backward', expected: 'a graph that was not freed by an earlier backward', given: `a second backward through ${node.op}` });
  };
  node.output = null;
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
