import { allocate, type DType } from '../dtype';
import { OptionError, ShapeError, StateDictError, ValueError, checkNumberOption, formatShape } from '../errors';
import { dropout } from '../ops/dropout';
import { mul, where } from '../ops/elementwise';
import { matmul, matmulTransposed } from '../ops/matmul';
import { softmax } from '../ops/activation';
import { permute, reshape } from '../ops/shape';
import type { Generator } from '../random';
import { Tensor, checkTensor } from '../tensor';
import { uniform, zeros as fillZeros } from './init';
import { Linear } from './linear';
import { Module, type StateDict } from './module';
import type { TensorModule } from './sequential';

export interface MultiHeadAttentionOptions {
  /** Model width E; split into `numHeads` heads of `E / numHeads`. */
  embedDim: number;
  numHeads: number;
  /** Biases on the four projections (default true). */
  bias?: boolean;
  /**
   * QK-norm: builds a normalizer over the last dim (`headDim`); called twice, for `q_norm` and
   * `k_norm`. They see q and k shaped `[N, heads, L, headDim]`, before the dot product.
   */
  qkNorm?: (headDim: number) => TensorModule;
  /** Dropout probability on the attention weights, in training mode (default 0). */
  dropout?: number;
  /** Parameter dtype (default float32). */
  dtype?: DType;
  /** Drives initialisation and attention dropout; the default generator otherwise. */
  generator?: Generator;
}

export interface AttentionForwardOptions {
  /** `[N, S, E]`; defaults to the query (self-attention). */
  key?: Tensor;
  /** `[N, S, E]`; defaults to the key. */
  value?: Tensor;
  /**
   * Key padding mask `[N, S]`: 1 for a real key, 0 for padding. Note this is the opposite of
   * PyTorch's `key_padding_mask`, where True marks a key to IGNORE.
   */
  mask?: Tensor;
  /**
   * Query i attends to keys j <= i. With S != L the triangle is aligned at the top left, like
   * `scaled_dot_product_attention(is_causal=True)`.
   */
  causal?: boolean;
}

/**
 * Multi-head scaled dot-product attention (Vaswani et al., 2017), batch first:
 * `softmax(q k^T / sqrt(headDim)) v` per head, with q, k, v and the output projected by `q_proj`,
 * `k_proj`, `v_proj` and `out_proj`. Optional QK-norm (Henry et al., 2020; Dehghani et al., 2023)
 * normalizes q and k per head before the dot product, which keeps attention logits from growing
 * without bound; `lastMaxLogit` records the largest |logit| of the last forward to watch exactly that.
 *
 * Masked keys get -Infinity before the softmax. A query row with no key left at all (every key
 * padded, or causal with a fully padded prefix) gets zero attention weights, hence output =
 * `out_proj.bias`, instead of PyTorch's NaN.
 *
 * PyTorch's `nn.MultiheadAttention` packs the input projections: `in_proj_weight` `[3E, E]` is
 * `q_proj.weight`, `k_proj.weight`, `v_proj.weight` stacked along dim 0 (rows 0..E-1, E..2E-1,
 * 2E..3E-1), `in_proj_bias` `[3E]` likewise; `out_proj.weight`/`out_proj.bias` match as they are.
 * `fromTorchAttentionStateDict` and `toTorchAttentionStateDict` convert between the two layouts.
 * Initialisation follows PyTorch: the packed weight is xavier-uniform over `[3E, E]` (so each of
 * q/k/v is U(-b, b) with b = sqrt(6 / 4E)), input biases and the output bias are zero, and the
 * output weight has Linear's default.
 *
 * @example
 * // qkNorm: any module normalizing the last dim, e.g. a registered normalizer plugin.
 * const attention = new MultiHeadAttention({ embedDim: 16, numHeads: 4, qkNorm: (headDim) => create('rms-norm', { numFeatures: headDim }) });
 * const y = attention.forward(x, { mask, causal: true }); // x [N, L, 16], mask [N, L]
 */
export class MultiHeadAttention extends Module {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly dropout: number;
  readonly qProj: Linear;
  readonly kProj: Linear;
  readonly vProj: Linear;
  readonly outProj: Linear;
  readonly qNorm: TensorModule | null;
  readonly kNorm: TensorModule | null;
  /** Max |q.k / sqrt(headDim)| over the attended (unmasked) pairs of the last forward; NaN before one. */
  lastMaxLogit = Number.NaN;
  private readonly generator: Generator | undefined;

  constructor(options: MultiHeadAttentionOptions) {
    super();
    const op = 'MultiHeadAttention';
    const embedDim = checkNumberOption(op, 'embedDim', options.embedDim, { min: 1, integer: true });
    const numHeads = checkNumberOption(op, 'numHeads', options.numHeads, { min: 1, integer: true });
    if (embedDim % numHeads !== 0) {
      throw new OptionError({ op, expected: 'embedDim divisible by numHeads', given: `embedDim = ${embedDim}, numHeads = ${numHeads}` });
    }
    const p = checkNumberOption(op, 'dropout', options.dropout ?? 0, { min: 0, max: 1, maxExclusive: true });
    this.embedDim = embedDim;
    this.numHeads = numHeads;
    this.headDim = embedDim / numHeads;
    this.dropout = p;
    this.generator = options.generator;
    const linear = { inFeatures: embedDim, outFeatures: embedDim, bias: options.bias ?? true, dtype: options.dtype, generator: options.generator };
    this.qProj = this.registerModule('q_proj', new Linear(linear));
    this.kProj = this.registerModule('k_proj', new Linear(linear));
    this.vProj = this.registerModule('v_proj', new Linear(linear));
    this.outProj = this.registerModule('out_proj', new Linear(linear));
    // xavier_uniform_ on PyTorch's packed [3E, E] in_proj_weight: fanIn = E, fanOut = 3E.
    const bound = Math.sqrt(6 / (4 * embedDim));
    for (const projection of [this.qProj, this.kProj, this.vProj]) {
      uniform(projection.weight, -bound, bound, { generator: options.generator });
      if (projection.bias) fillZeros(projection.bias);
    }
    if (this.outProj.bias) fillZeros(this.outProj.bias);
    if (options.qkNorm) {
      this.qNorm = this.registerModule('q_norm', options.qkNorm(this.headDim));
      this.kNorm = this.registerModule('k_norm', options.qkNorm(this.headDim));
    } else {
      this.qNorm = null;
      this.kNorm = null;
    }
  }

  override forward(query: Tensor, options: AttentionForwardOptions = {}): Tensor {
    checkTensor('MultiHeadAttention.forward', query, 'query');
    if (options.key !== undefined) checkTensor('MultiHeadAttention.forward', options.key, 'key');
    if (options.value !== undefined) checkTensor('MultiHeadAttention.forward', options.value, 'value');
    const op = 'MultiHeadAttention.forward';
    const key = options.key ?? query;
    const value = options.value ?? key;
    const { embedDim: E, numHeads: H, headDim: D } = this;
    checkSequence(op, 'query', query, E);
    checkSequence(op, 'key', key, E);
    checkSequence(op, 'value', value, E);
    const [N, L] = [query.shape[0]!, query.shape[1]!];
    const S = key.shape[1]!;
    if (key.shape[0] !== N || value.shape[0] !== N || value.shape[1] !== S) {
      throw new ShapeError({
        op,
        expected: `key and value of shape [${N}, S, ${E}] with one S (batch ${N} from the query)`,
        given: `query ${formatShape(query.shape)}, key ${formatShape(key.shape)}, value ${formatShape(value.shape)}`,
      });
    }
    const allowed = attentionMask(op, N, L, S, options.mask, options.causal ?? false, query.dtype);

    // [N, L, E] -> [N, H, L, D]
    const splitHeads = (x: Tensor, length: number): Tensor => permute(reshape(x, [N, length, H, D]), [0, 2, 1, 3]);
    let q = splitHeads(this.qProj.forward(query), L);
    let k = splitHeads(this.kProj.forward(key), S);
    const v = splitHeads(this.vProj.forward(value), S);
    if (this.qNorm && this.kNorm) {
      q = this.qNorm.forward(q);
      k = this.kNorm.forward(k);
    }
    let logits = mul(matmulTransposed(q, k), 1 / Math.sqrt(D)); // [N, H, L, S]
    this.lastMaxLogit = maxAbsLogit(logits, allowed, H, L, S);
    if (allowed) logits = where(allowed.keep, logits, -Infinity);
    let weights = softmax(logits, -1);
    if (allowed?.rowHasKey) weights = mul(weights, allowed.rowHasKey);
    if (this.dropout > 0 && this.training) weights = dropout(weights, this.dropout, { training: true, generator: this.generator });
    const context = matmul(weights, v); // [N, H, L, D]
    return this.outProj.forward(reshape(permute(context, [0, 2, 1, 3]), [N, L, E]));
  }
}

function checkSequence(op: string, name: string, x: Tensor, embedDim: number): void {
  if (x.ndim !== 3 || x.shape[2] !== embedDim) {
    throw new ShapeError({
      op,
      expected: `${name} of shape [N, L, ${embedDim}] (batch first, last dim = embedDim = ${embedDim})`,
      given: formatShape(x.shape),
    });
  }
}

interface AllowedPairs {
  /** `[N, 1, L, S]`: 1 where query i may attend to key j (fully masked rows set to all 1, see rowHasKey). */
  keep: Tensor;
  /** `[N, 1, L, 1]`: 0 for query rows with no key at all, whose weights must be zeroed; null if there are none. */
  rowHasKey: Tensor | null;
  /** The true per-pair mask, before the fully-masked-row fix, `N * L * S` entries. */
  pairs: Uint8Array;
}

function attentionMask(
  op: string, N: number, L: number, S: number, mask: Tensor | undefined, causal: boolean, dtype: DType,
): AllowedPairs | null {
  if (!mask && !causal) return null;
  if (mask) {
    if (mask.ndim !== 2 || mask.shape[0] !== N || mask.shape[1] !== S) {
      throw new ShapeError({ op, expected: `a key padding mask of shape [${N}, ${S}] ([N, S])`, given: formatShape(mask.shape) });
    }
    for (let i = 0; i < mask.size; i++) {
      const m = mask.data[i]!;
      if (m !== 0 && m !== 1) {
        throw new ValueError({ op, expected: 'mask values 1 (real key) or 0 (padding)', given: `${m} at flat index ${i}` });
      }
    }
  }
  const pairs = new Uint8Array(N * L * S);
  const keep = allocate(dtype, N * L * S);
  const rowHasKey = allocate(dtype, N * L);
  let emptyRows = 0;
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < L; i++) {
      const row = (n * L + i) * S;
      let count = 0;
      for (let j = 0; j < S; j++) {
        const ok = (!mask || mask.data[n * S + j] === 1) && (!causal || j <= i);
        if (ok) {
          pairs[row + j] = 1;
          count++;
        }
      }
      rowHasKey[n * L + i] = count > 0 ? 1 : 0;
      // A row with no key would softmax -Infinity everywhere into NaN: let it attend to every key,
      // then zero its weights with rowHasKey.
      for (let j = 0; j < S; j++) keep[row + j] = count > 0 ? pairs[row + j]! : 1;
      if (count === 0) emptyRows++;
    }
  }
  return {
    keep: new Tensor(keep, [N, 1, L, S]),
    rowHasKey: emptyRows > 0 ? new Tensor(rowHasKey, [N, 1, L, 1]) : null,
    pairs,
  };
}

function maxAbsLogit(logits: Tensor, allowed: AllowedPairs | null, H: number, L: number, S: number): number {
  const data = logits.data;
  let best = 0;
  const pairsPerHead = L * S;
  for (let index = 0; index < data.length; index++) {
    if (allowed) {
      const n = Math.floor(index / (H * pairsPerHead));
      if (allowed.pairs[n * pairsPerHead + (index % pairsPerHead)] === 0) continue;
    }
    const magnitude = Math.abs(data[index]!);
    if (magnitude > best) best = magnitude;
  }
  return best;
}

/** Splits the rows of a packed `[3E, ...]` tensor into q, k, v parts. */
function splitPacked(op: string, key: string, t: Tensor): [Tensor, Tensor, Tensor] {
  const rows = t.shape[0];
  if (t.ndim < 1 || rows === undefined || rows % 3 !== 0) {
    throw new StateDictError(op, [`"${key}" must have a first dim divisible by 3 (q, k, v stacked), got ${formatShape(t.shape)}`]);
  }
  const part = t.size / 3;
  const shape = [rows / 3, ...t.shape.slice(1)];
  return [0, 1, 2].map((i) => new Tensor(t.data.slice(i * part, (i + 1) * part), shape)) as [Tensor, Tensor, Tensor];
}

const PACKED = ['in_proj_weight', 'in_proj_bias'] as const;
const SEPARATE_KDIM = { q_proj_weight: 'q_proj.weight', k_proj_weight: 'k_proj.weight', v_proj_weight: 'v_proj.weight' } as const;

/**
 * Converts a PyTorch state dict (whole model or one `nn.MultiheadAttention`) to this module's
 * layout: every `<prefix>in_proj_weight` / `<prefix>in_proj_bias` is split into
 * `<prefix>q_proj.weight`, `k_proj.weight`, `v_proj.weight` (and `.bias`); the unpacked
 * `q_proj_weight` etc. PyTorch uses when kdim/vdim differ are renamed; other keys are kept. The
 * tensors are copies.
 *
 * @example
 * attention.loadStateDict(fromTorchAttentionStateDict(loadSafetensors(bytes)));
 */
export function fromTorchAttentionStateDict(dict: StateDict): StateDict {
  const out: StateDict = {};
  for (const [name, t] of Object.entries(dict)) {
    const cut = name.lastIndexOf('.') + 1;
    const prefix = name.slice(0, cut);
    const leaf = name.slice(cut);
    if ((PACKED as readonly string[]).includes(leaf)) {
      const suffix = leaf === 'in_proj_weight' ? 'weight' : 'bias';
      const [q, k, v] = splitPacked('fromTorchAttentionStateDict', name, t);
      out[`${prefix}q_proj.${suffix}`] = q;
      out[`${prefix}k_proj.${suffix}`] = k;
      out[`${prefix}v_proj.${suffix}`] = v;
    } else if (leaf in SEPARATE_KDIM) {
      out[prefix + SEPARATE_KDIM[leaf as keyof typeof SEPARATE_KDIM]] = t.clone();
    } else {
      out[name] = t.clone();
    }
  }
  return out;
}

/**
 * The inverse of `fromTorchAttentionStateDict`: packs every `<prefix>q_proj.weight`,
 * `k_proj.weight`, `v_proj.weight` triple (and the biases) into PyTorch's `in_proj_weight` /
 * `in_proj_bias`, so `nn.MultiheadAttention.load_state_dict` accepts it. Other keys are copied.
 */
export function toTorchAttentionStateDict(dict: StateDict): StateDict {
  const out: StateDict = {};
  const consumed = new Set<string>();
  for (const name of Object.keys(dict)) {
    const match = /^((?:.*\.)?)q_proj\.(weight|bias)$/.exec(name);
    if (!match) continue;
    const [, prefix, suffix] = match as unknown as [string, string, 'weight' | 'bias'];
    const parts = ['q', 'k', 'v'].map((p) => `${prefix}${p}_proj.${suffix}`);
    const tensors = parts.map((p) => dict[p]);
    if (tensors.some((t) => t === undefined)) continue;
    const [q, k, v] = tensors as [Tensor, Tensor, Tensor];
    if (q.dtype !== k.dtype || q.dtype !== v.dtype || q.size !== k.size || q.size !== v.size) {
      throw new StateDictError('toTorchAttentionStateDict', [
        `${parts.join(', ')} must share dtype and shape to be packed, got ${[q, k, v].map((t) => `${t.dtype} ${formatShape(t.shape)}`).join(', ')}`,
      ]);
    }
    const packed = allocate(q.dtype, 3 * q.size);
    packed.set(q.data, 0);
    packed.set(k.data, q.size);
    packed.set(v.data, 2 * q.size);
    out[`${prefix}in_proj_${suffix}`] = new Tensor(packed, [3 * q.shape[0]!, ...q.shape.slice(1)]);
    for (const p of parts) consumed.add(p);
  }
  for (const [name, t] of Object.entries(dict)) if (!consumed.has(name)) out[name] = t.clone();
  return out;
}
