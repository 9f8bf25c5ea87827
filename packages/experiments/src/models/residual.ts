import {
  Linear, Module, ModuleList, RegistryError, add, resolveOptions,
  type Generator, type OptionValues, type OptionsSchema, type Tensor,
} from '@normkit/tensor';
import type { InputKind } from '../datasets/dataset';
import {
  activate, activationOption, defineModel, flattenImage, inputWidth, maskedMeanPool, normFor,
  type ActivationName, type Classifier, type ModelInput,
} from './model';
import { NormSlot, type NormChoice, type PluginChoice, type SlotContext } from './norm-slot';
import { ActivationTap } from './tap';

/**
 * The residual branch f of a pre-activation block (He et al., 2016, "Identity Mappings in Deep
 * Residual Networks"): norm -> activation -> Linear -> norm -> activation -> Linear.
 */
export class ResidualBranch extends Module {
  readonly norm1: NormSlot;
  readonly linear1: Linear;
  readonly norm2: NormSlot;
  readonly linear2: Linear;

  constructor(width: number, choice: NormChoice, readonly activation: ActivationName, tokens: boolean, generator: Generator) {
    super();
    const layout = tokens ? 'tokens' : 'features';
    this.norm1 = this.registerModule('norm1', new NormSlot('block', choice, width, layout));
    this.linear1 = this.registerModule('linear1', new Linear({ inFeatures: width, outFeatures: width, generator }));
    this.norm2 = this.registerModule('norm2', new NormSlot('block', choice, width, layout));
    this.linear2 = this.registerModule('linear2', new Linear({ inFeatures: width, outFeatures: width, generator }));
  }

  override forward(x: Tensor, context: SlotContext = {}): Tensor {
    const h = this.linear1.forward(activate(this.activation, this.norm1.forward(x, context)));
    return this.linear2.forward(activate(this.activation, this.norm2.forward(h, context)));
  }
}

/** A whole residual block: maps the stream x to the block's output (x + f(x) by default). */
export interface ResidualBlockModule extends Module {
  forward(x: Tensor, context: SlotContext): Tensor;
}

/** Where a block sits, for wrappers that scale by depth (NF-ResNets' beta and alpha, SkipInit). */
export interface BlockInfo {
  index: number;
  depth: number;
  width: number;
}

/** y = x + f(x). */
export class PlainResidualBlock extends Module implements ResidualBlockModule {
  constructor(readonly branch: ResidualBranch) {
    super();
    this.registerModule('branch', branch);
  }

  override forward(x: Tensor, context: SlotContext = {}): Tensor {
    return add(x, this.branch.forward(x, context));
  }
}

/**
 * A named way to turn a residual branch into a block, so a config (a string in a URL) can pick
 * it: the hook through which @normkit/norm-free's NF blocks and SkipInit (y = x + alpha f(x),
 * alpha = 0 at start) plug into the residual net. Options use the plugins' schema format.
 */
export interface BlockWrapperDefinition<S extends OptionsSchema = OptionsSchema> {
  readonly name: string;
  readonly description: string;
  readonly options: S;
  create(branch: ResidualBranch, info: BlockInfo, options: OptionValues<S>): ResidualBlockModule;
}

const WRAPPERS_KEY = Symbol.for('normkit.experiments.blockWrappers');

function wrappers(): Map<string, BlockWrapperDefinition> {
  const holder = globalThis as unknown as Record<symbol, Map<string, BlockWrapperDefinition> | undefined>;
  return (holder[WRAPPERS_KEY] ??= new Map<string, BlockWrapperDefinition>());
}

/** The default wrapper: y = x + f(x). */
export const plainBlockWrapper: BlockWrapperDefinition = {
  name: 'plain',
  description: 'y = x + f(x)',
  options: {},
  create: (branch) => new PlainResidualBlock(branch),
};

/**
 * Makes a block wrapper available by name to residual-net configs (`model.blockWrapper`).
 * Explicit, like the plugin registry; a duplicate name throws (unregister first).
 *
 * @example
 * registerBlockWrapper({ name: 'skip-init', description: 'x + alpha f(x)', options: {}, create: (branch) => new SkipInitBlock(branch) });
 */
export function registerBlockWrapper<S extends OptionsSchema>(definition: BlockWrapperDefinition<S>): void {
  if (definition.name === plainBlockWrapper.name || wrappers().has(definition.name)) {
    throw new RegistryError({ op: 'registerBlockWrapper', expected: 'a block wrapper name not registered yet', given: JSON.stringify(definition.name) });
  }
  wrappers().set(definition.name, definition);
}

export function unregisterBlockWrapper(name: string): boolean {
  return wrappers().delete(name);
}

/** 'plain' and every registered wrapper. */
export function listBlockWrappers(): BlockWrapperDefinition[] {
  return [plainBlockWrapper, ...[...wrappers().values()].sort((a, b) => a.name.localeCompare(b.name))];
}

export function getBlockWrapper(name: string): BlockWrapperDefinition {
  const found = name === plainBlockWrapper.name ? plainBlockWrapper : wrappers().get(name);
  if (!found) {
    throw new RegistryError({
      op: 'getBlockWrapper',
      expected: `a block wrapper among ${listBlockWrappers().map((w) => w.name).join(', ')}`,
      given: JSON.stringify(name),
    });
  }
  return found;
}

/** Resolves a wrapper choice against its schema (OptionError on a bad option). */
export function resolveBlockWrapper(choice: PluginChoice | undefined): { definition: BlockWrapperDefinition; options: OptionValues<OptionsSchema> } {
  const definition = getBlockWrapper(choice?.name ?? plainBlockWrapper.name);
  return { definition, options: resolveOptions(`model.blockWrapper (${definition.name})`, definition.options, choice?.options ?? {}) };
}

export interface ResidualNetOptions {
  inFeatures: number;
  numClasses: number;
  width: number;
  depth: number;
  activation: ActivationName;
  /** Both slots of every branch (role 'block'). */
  blockNorm: NormChoice;
  /** Before the head (role 'final'). */
  finalNorm: NormChoice;
  inputKind: InputKind;
  generator: Generator;
  /** Turns each branch into a block; default y = x + f(x). */
  wrapBlock?: (branch: ResidualBranch, info: BlockInfo) => ResidualBlockModule;
}

/**
 * A residual MLP: a Linear stem to `width`, `depth` pre-activation residual blocks, a final
 * norm -> activation and a Linear head. With every slot 'none' it is the norm-free case:
 * the variance of the stream grows with depth unless the blocks are rescaled, which is what the
 * block wrapper hook is for (SkipInit, NF blocks), combined with AGC (a gradient transform) and
 * scaled weight standardization (a weight parametrization) from the config. Token sequences are
 * processed token by token and pooled over real tokens; images are flattened.
 */
export class ResidualNet extends Module implements Classifier {
  readonly stem: Linear;
  readonly blocks: ModuleList<ResidualBlockModule>;
  readonly taps: ModuleList<ActivationTap>;
  readonly finalNorm: NormSlot;
  readonly head: Linear;
  readonly inputKind: InputKind;
  readonly activation: ActivationName;

  constructor(options: ResidualNetOptions) {
    super();
    this.inputKind = options.inputKind;
    this.activation = options.activation;
    const tokens = options.inputKind === 'tokens';
    this.stem = this.registerModule('stem', new Linear({ inFeatures: options.inFeatures, outFeatures: options.width, generator: options.generator }));
    const wrap = options.wrapBlock ?? ((branch: ResidualBranch) => new PlainResidualBlock(branch));
    const blocks: ResidualBlockModule[] = [];
    for (let index = 0; index < options.depth; index++) {
      const branch = new ResidualBranch(options.width, options.blockNorm, options.activation, tokens, options.generator);
      blocks.push(wrap(branch, { index, depth: options.depth, width: options.width }));
    }
    this.blocks = this.registerModule('blocks', new ModuleList(blocks));
    this.taps = this.registerModule('taps', new ModuleList(blocks.map(() => new ActivationTap())));
    this.finalNorm = this.registerModule('final_norm', new NormSlot('final', options.finalNorm, options.width, tokens ? 'tokens' : 'features'));
    this.head = this.registerModule('head', new Linear({ inFeatures: options.width, outFeatures: options.numClasses, generator: options.generator }));
  }

  override forward(input: ModelInput): Tensor {
    const context: SlotContext = { mask: input.mask };
    let h = this.stem.forward(flattenImage(input.x, this.inputKind));
    let index = 0;
    for (const block of this.blocks) h = this.taps.at(index++).forward(block.forward(h, context), input.mask);
    h = activate(this.activation, this.finalNorm.forward(h, context));
    return this.head.forward(this.inputKind === 'tokens' ? maskedMeanPool(h, input.mask) : h);
  }
}

export const residualModel = defineModel({
  name: 'residual',
  description: 'Residual MLP with pre-activation blocks; a block wrapper hook for norm-free variants (SkipInit, NF blocks)',
  options: {
    width: { type: 'number', default: 32, integer: true, min: 1, max: 1024, description: 'Width of the residual stream' },
    depth: { type: 'number', default: 4, integer: true, min: 1, max: 256, description: 'Residual blocks' },
    activation: activationOption,
  },
  tasks: ['classification', 'sequence-classification'],
  inputKinds: ['vector', 'image', 'tokens'],
  normRoles: [
    { name: 'block', description: 'Both normalization slots of every residual branch' },
    { name: 'final', description: 'After the last block, before the head' },
  ],
  weightRoles: ['layers'],
  build: ({ options, data, norms, generator, blockWrapper }) => {
    const { definition, options: wrapperOptions } = resolveBlockWrapper(blockWrapper);
    return new ResidualNet({
      inFeatures: inputWidth(data),
      numClasses: data.numClasses,
      width: options.width,
      depth: options.depth,
      activation: options.activation,
      blockNorm: normFor(norms, 'block'),
      finalNorm: normFor(norms, 'final'),
      inputKind: data.inputKind,
      generator,
      wrapBlock: (branch, info) => definition.create(branch, info, wrapperOptions),
    });
  },
});
