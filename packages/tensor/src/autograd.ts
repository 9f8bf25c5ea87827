import { MIN_POOLED_LENGTH, recycle } from './buffer-pool';
import { castArray, type TypedArray } from './dtype';
import { AutogradError, DTypeError, ShapeError, ValueError, formatShape } from './errors';
import { Tensor, checkTensor, describeValue, isGradEnabled, type GraphNode } from './tensor';

/** What every custom op gives besides its inputs and backward rule. */
interface CustomOpBase {
  /** Shown in errors and graph inspection, e.g. `batchNorm`. */
  op: string;
  /**
   * The tensors whose values `backward` reads (default: every input). Their versions are recorded
   * now, and backward refuses to run if one was modified in place since (the output's too).
   * Pass `[]` for an op whose backward reads no input, like `add`.
   */
  saved?: readonly Tensor[];
  /** The forward result, already computed by the caller's kernel. */
  data: TypedArray;
  shape: readonly number[];
}

/** Named inputs of a custom op, e.g. `{ x, weight, bias }`; an optional input that is absent is null or undefined. */
export type CustomOpInputs = Readonly<Record<string, Tensor | null | undefined>>;

/**
 * What a named backward rule returns: a gradient per input name, in that input's shape (flat, any
 * float dtype: the engine casts to the input's dtype, copying nothing when it already matches). A
 * missing name or null means no gradient; a gradient for an input given as null is ignored.
 */
export type CustomOpGradients<I extends CustomOpInputs> = { readonly [K in keyof I]?: TypedArray | null };

/**
 * What a named rule may return, key by key: an input's name maps to a gradient, any other key to
 * `never`, so a misspelt name (or an array, or a number) fails to compile.
 */
export type CheckedGradients<I extends CustomOpInputs, R> = {
  readonly [K in keyof R]: K extends keyof I ? TypedArray | null | undefined : never;
};

/** `customOp` with named inputs and gradients: the form to write. `R` is what the rule returns. */
export interface NamedCustomOpSpec<I extends CustomOpInputs, R extends object = CustomOpGradients<I>> extends CustomOpBase {
  inputs: I;
  /**
   * Maps the output gradient to named input gradients. Return fresh arrays or `gradOutput` itself;
   * never an array the op keeps for later. A name that is not an input, or a gradient of the wrong
   * size or type, is an error naming the op and the input.
   */
  backward: (gradOutput: TypedArray) => R & CheckedGradients<I, R>;
}

/** `customOp` with positional inputs and gradients (`inputs: [x, w]`, `backward: g => [gx, gw]`), kept for existing code. */
export interface PositionalCustomOpSpec extends CustomOpBase {
  inputs: readonly Tensor[];
  /**
   * Maps the output gradient to one gradient per input (same shape as that input), or null.
   * Return fresh arrays or `gradOutput` itself; never an array the op keeps for later.
   */
  backward: (gradOutput: TypedArray) => ReadonlyArray<TypedArray | null>;
}

/** Either form of `customOp`'s argument. */
export type CustomOpSpec = NamedCustomOpSpec<CustomOpInputs> | PositionalCustomOpSpec;

export interface BackwardOptions {
  /**
   * Keep the graph for another backward (PyTorch's `retain_graph`). By default the graph is freed:
   * backward through it again throws an AutogradError.
   */
  retainGraph?: boolean;
}

/** What a recorded node keeps to check, at backward time, that its saved tensors are unchanged. */
interface RecordedNode extends GraphNode {
  /** How errors name each input: `input "weight"` (named form) or `input 1` (positional). */
  readonly inputLabels: readonly string[];
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
 *
 * Inputs and gradients are named: the rule returns the gradients it has, by input name.
 *
 * @example
 * const y = customOp({
 *   op: 'scaleShift',
 *   inputs: { x, weight, bias }, // bias may be null
 *   data: kernelOutput,
 *   shape: x.shape,
 *   backward: (g) => ({ x: gradX, weight: gradWeight, bias: gradBias }),
 * });
 */
export function customOp<I extends CustomOpInputs, R extends object>(spec: NamedCustomOpSpec<I, R>): Tensor;
/** The positional form, kept for existing code: `inputs: [x, w]`, `backward: g => [gx, gw]`. */
export function customOp(spec: PositionalCustomOpSpec): Tensor;
export function customOp(spec: CustomOpSpec): Tensor {
  const { inputs, labels, backward } = Array.isArray(spec.inputs)
    ? positionalInputs(spec as PositionalCustomOpSpec)
    : namedInputs(spec as NamedCustomOpSpec<CustomOpInputs>);
  const out = new Tensor(spec.data, spec.shape);
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    const saved = spec.saved ?? inputs;
    const node: RecordedNode = {
      op: spec.op,
      inputs,
      inputLabels: labels,
      backward,
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

interface LinedUp {
  readonly inputs: readonly Tensor[];
  readonly labels: readonly string[];
  readonly backward: GraphNode['backward'];
}

function positionalInputs(spec: PositionalCustomOpSpec): LinedUp {
  // The last line of defence: every op records only tensors of this copy in the graph.
  const labels = spec.inputs.map((input, i) => {
    checkTensor(spec.op, input, `input ${i}`);
    return `input ${i}`;
  });
  return { inputs: spec.inputs, labels, backward: spec.backward };
}

/** Lines named inputs up for the engine (absent ones dropped) and wraps the rule to check the names and arrays it returns. */
function namedInputs(spec: NamedCustomOpSpec<CustomOpInputs>): LinedUp {
  const record: unknown = spec.inputs;
  if (typeof record !== 'object' || record === null) {
    throw new ValueError({ op: spec.op, expected: 'inputs as named tensors ({ x, weight, ... }) or an array of tensors', given: describeValue(record) });
  }
  const names: string[] = [];
  const inputs: Tensor[] = [];
  const absent = new Set<string>();
  for (const [name, input] of Object.entries(record as CustomOpInputs)) {
    if (input === null || input === undefined) {
      absent.add(name);
      continue;
    }
    names.push(name);
    inputs.push(checkTensor(spec.op, input, `input "${name}"`));
  }
  const labels = names.map((name) => `input "${name}"`);
  const rule = spec.backward;
  const backward = (gradOutput: TypedArray): Array<TypedArray | null> => {
    const grads: unknown = rule(gradOutput);
    if (typeof grads !== 'object' || grads === null || Array.isArray(grads)) {
      throw new AutogradError({
        op: `${spec.op} (backward)`,
        expected: `gradients by input name (an object with keys among ${names.join(', ')})`,
        given: Array.isArray(grads) ? 'an array (positional gradients need positional inputs)' : describeValue(grads),
      });
    }
    const byName = grads as Readonly<Record<string, unknown>>;
    for (const name of Object.keys(byName)) {
      if (!names.includes(name) && !absent.has(name)) {
        throw new AutogradError({
          op: `${spec.op} (backward)`,
          expected: `gradients named after the inputs (${names.join(', ')})`,
          given: `a gradient for "${name}", which is not an input`,
        });
      }
    }
    return names.map((name, i) => {
      const g = byName[name];
      if (g === null || g === undefined) return null;
      checkGradient(spec.op, g, inputs[i]!, labels[i]!);
      return g as TypedArray;
    });
  };
  return { inputs, labels, backward };
}

/** A gradient must be a float array with the input's number of elements. */
function checkGradient(op: string, g: unknown, input: Tensor, label: string): void {
  if (!(g instanceof Float32Array || g instanceof Float64Array)) {
    throw new DTypeError({
      op: `${op} (backward)`,
      expected: `the gradient of ${label} in a Float32Array or a Float64Array`,
      given: describeValue(g),
    });
  }
  if (g.length !== input.size) {
    throw new ShapeError({
      op: `${op} (backward)`,
      expected: `a gradient of ${input.size} elements for ${label} of shape ${formatShape(input.shape)}`,
      given: `${g.length} elements`,
    });
  }
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
  // What goes into `.grad` (leaves and retained intermediates), written only once the whole sweep
  // has succeeded: a rule that throws (a wrong gradient name or size) leaves every `.grad` as it was.
  const gradWrites: Array<{ tensor: Tensor; gradient: TypedArray }> = [];
  // How many pending arrays (in `grads` or `gradWrites`) use each buffer: counted as they come and
  // go, so a recycle check is one lookup instead of a scan of everything pending.
  const pending = new Map<ArrayBufferLike, number>();
  const addPending = (gradient: TypedArray) => pending.set(gradient.buffer, (pending.get(gradient.buffer) ?? 0) + 1);
  const removePending = (gradient: TypedArray) => {
    const count = pending.get(gradient.buffer)! - 1;
    if (count === 0) pending.delete(gradient.buffer);
    else pending.set(gradient.buffer, count);
  };
  const recycleConsumed = (gradient: TypedArray) => {
    // Arrays below the pool's minimum are never pooled (recycle would drop them): skip the checks.
    if (gradient.length < MIN_POOLED_LENGTH || !owned.has(gradient) || graphBuffers.has(gradient.buffer) || pending.has(gradient.buffer)) return;
    owned.delete(gradient);
    recycle(gradient);
  };
  grads.set(root, seed);
  addPending(seed);
  for (const tensor of order) {
    const gradOutput = grads.get(tensor);
    if (gradOutput === undefined) continue;
    grads.delete(tensor);
    removePending(gradOutput);
    if (tensor.node === null || tensor.retainsGrad) {
      gradWrites.push({ tensor, gradient: gradOutput });
      addPending(gradOutput);
      if (tensor.node === null) continue;
    }
    const node = tensor.node;
    const inputGrads = node.backward(gradOutput);
    if (!options.retainGraph) release(node as RecordedNode);
    for (let i = 0; i < node.inputs.length; i++) {
      const input = node.inputs[i]!;
      const g = inputGrads[i];
      if (!input.requiresGrad || g === null || g === undefined) continue;
      checkGradient(node.op, g, input, (node as RecordedNode).inputLabels[i]!);
      const existing = grads.get(input);
      if (existing === undefined) {
        let stored = castArray(g, input.dtype);
        if (stored === gradOutput || owned.has(stored)) stored = stored.slice();
        owned.add(stored);
        grads.set(input, stored);
        addPending(stored);
      } else accumulateInto(existing, g);
    }
    // A retained tensor's first .grad may be this very array: it is then in graphBuffers' sense the
    // user's, so only non-retained intermediates give theirs back.
    if (!tensor.retainsGrad) recycleConsumed(gradOutput);
  }
  const writes = gradWrites.splice(0);
  for (const { gradient } of writes) removePending(gradient);
  const kept = new Set<ArrayBufferLike>();
  const consumed: TypedArray[] = [];
  for (const { tensor, gradient } of writes) {
    if (tensor.grad === null) {
      // Arrays in `grads` are owned by their entry (see above), except the caller's seed.
      const data = castArray(gradient, tensor.dtype);
      tensor.grad = new Tensor(data === seed ? data.slice() : data, tensor.shape);
      kept.add(tensor.grad.data.buffer);
    } else {
      accumulateInto(tensor.grad.data, gradient);
      // A leaf is done with it; a retained intermediate passed it to its node (a rule may have kept a view).
      if (tensor.node === null) consumed.push(gradient);
    }
  }
  for (const gradient of consumed) if (!kept.has(gradient.buffer)) recycleConsumed(gradient);
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
