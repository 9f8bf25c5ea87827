import {
  ContextError, Module, OptionError, createByName, normalizerTraits, permute, transpose,
  type Normalizer, type NormalizerContext, type NormalizerSlot, type NormalizerTraits, type Tensor,
} from '@normkit/tensor';

/** The name that leaves a slot empty (the identity); every other name is looked up in the registry. */
export const NO_NORM = 'none';

/** A registered plugin by name with options for its schema (normalizers, weight parametrizations, gradient transforms). */
export interface PluginChoice {
  name: string;
  options?: Record<string, unknown>;
}

/** What fills one normalization slot of a model. */
export interface NormChoice extends PluginChoice {
  /**
   * Hand the padding mask to a normalizer that accepts one (default true). false keeps padded
   * positions in its statistics: the "unmasked" side of a masked-vs-unmasked comparison.
   */
  mask?: boolean;
}

/** How the activations at a slot are laid out. */
export type SlotLayout = 'features' | 'tokens' | 'image';

/** What a model hands its slots at forward besides the activations. */
export interface SlotContext {
  /** [N, L] for tokens. */
  mask?: Tensor;
  /** [N, conditionDim]. */
  condition?: Tensor;
  /** One class id per sample. */
  labels?: readonly number[] | Int32Array;
}

/** Extra slot information a model can offer: the width of its condition and its class count. */
export interface SlotExtras {
  conditionDim?: number;
  numClasses?: number;
}

/** The traits of `choice` with its options resolved (null for 'none'); throws OptionError/RegistryError. */
export function traitsOf(choice: NormChoice, owner = choice.name): NormalizerTraits | null {
  if (choice.name === NO_NORM) {
    if (choice.options && Object.keys(choice.options).length > 0) {
      throw new OptionError({ op: owner, expected: `no options for '${NO_NORM}'`, given: `options ${Object.keys(choice.options).join(', ')}` });
    }
    return null;
  }
  return normalizerTraits(choice.name, choice.options, { op: owner });
}

/**
 * One normalization slot of a model, filled by any registered normalizer (or 'none'), honouring
 * the plugin's traits so every model can take every normalizer:
 *
 * - layout: on tokens [N, L, D] a channels-first normalizer (BatchNorm, GroupNorm) sees [N, D, L]
 *   and a channels-last one (LayerNorm, RMSNorm) sees [N, L, D]; on images [N, C, H, W] a
 *   channels-last normalizer sees [N, H, W, C] (per-pixel LayerNorm over channels, as in ConvNeXt);
 *   features [N, D] suit both as they are. The output is transposed back.
 * - acceptsMask: the [N, L] padding mask is handed over (unless `choice.mask` is false); a
 *   normalizer that takes none sees the padded positions like any other.
 * - needsCondition / needsLabels: the condition [N, conditionDim] or the class ids are handed
 *   over; a model that has none refuses the normalizer when it is built (ContextError).
 *
 * The normalizer is the child named after its plugin, so state-dict keys and probes read
 * `hidden.0.norm.batch-norm.running_mean`.
 *
 * @example
 * const slot = new NormSlot('hidden', { name: 'group-norm', options: { numGroups: 4 } }, 32, 'tokens');
 * const y = slot.forward(tokens, { mask }); // tokens [N, L, 32] -> [N, 32, L] -> GroupNorm -> back
 */
export class NormSlot extends Module {
  readonly role: string;
  readonly choice: NormChoice;
  readonly layout: SlotLayout;
  /** null for 'none'. */
  readonly traits: NormalizerTraits | null;
  /** null for 'none'. */
  readonly normalizer: Normalizer | null;

  constructor(role: string, choice: NormChoice, features: number, layout: SlotLayout, extras: SlotExtras = {}) {
    super();
    this.role = role;
    this.choice = choice;
    this.layout = layout;
    const owner = `norms.${role}`;
    this.traits = traitsOf(choice, owner);
    if (!this.traits) {
      this.normalizer = null;
      return;
    }
    if (this.traits.needsCondition && extras.conditionDim === undefined) {
      throw new ContextError({ op: owner, expected: 'a normalizer that needs no condition (this model has none to give)', given: `"${choice.name}", which needs a condition` });
    }
    if (this.traits.needsLabels && extras.numClasses === undefined) {
      throw new ContextError({ op: owner, expected: 'a normalizer that needs no class labels (this model has none to give)', given: `"${choice.name}", which needs labels` });
    }
    const slot: NormalizerSlot = {
      numFeatures: features,
      normalizedShape: [features],
      ...(extras.conditionDim !== undefined ? { conditionDim: extras.conditionDim } : {}),
      ...(extras.numClasses !== undefined ? { numClasses: extras.numClasses } : {}),
    };
    this.normalizer = this.registerModule(choice.name, createByName(choice.name, slot, choice.options, { op: owner }));
  }

  override forward(x: Tensor, context: SlotContext = {}): Tensor {
    if (!this.normalizer || !this.traits) return x;
    const traits = this.traits;
    const normContext: NormalizerContext = {};
    if (context.mask && traits.acceptsMask && this.choice.mask !== false) normContext.mask = context.mask;
    if (traits.needsCondition) normContext.condition = context.condition;
    if (traits.needsLabels) normContext.labels = context.labels ? Array.from(context.labels) : undefined;
    const norm = this.normalizer;
    if (this.layout === 'tokens' && traits.layout === 'channels-first') {
      return transpose(norm.forward(transpose(x, 1, 2), normContext), 1, 2);
    }
    if (this.layout === 'image' && traits.layout === 'channels-last') {
      return permute(norm.forward(permute(x, [0, 2, 3, 1]), normContext), [0, 3, 1, 2]);
    }
    return norm.forward(x, normContext);
  }
}
