// Taking a trained model away from the playground: its weights as safetensors (normkit's state-dict
// keys, which follow PyTorch's names: `weight`, `bias`, `running_mean`, `running_var`,
// `num_batches_tracked`), the whole run as a training bundle that continues in PyTorch, and, for the
// MLP on vector data, the eval model as ONNX through @normkit/onnx. Runs in the worker, which owns
// the model.
import { ActivationTap, DenseLayer, Mlp, NormSlot, encodeConfig, type Classifier, type ExperimentConfig, type Trainer } from '@normkit/experiments';
import { defineLowering, exportOnnx, type AnyLowering } from '@normkit/onnx';
import { batchLowerings } from '@normkit/onnx/batch';
import { conditionalLowerings } from '@normkit/onnx/conditional';
import { groupLowerings } from '@normkit/onnx/group';
import { layerLowerings } from '@normkit/onnx/layer';
import { switchableLowerings } from '@normkit/onnx/switchable';
import { weightLowerings } from '@normkit/onnx/weight';
import { GELU, Module, ReLU, Tanh, saveBundle, saveSafetensors, type Tensor } from '@normkit/tensor';
import { zipSync } from 'fflate';

/** The model's state dict as safetensors bytes; the metadata names the config (its link string) and the step. */
export function exportSafetensors(model: Module, config: ExperimentConfig, step: number): Uint8Array {
  return saveSafetensors(model.stateDict(), { format: 'pt', producer: 'normkit playground', config: encodeConfig(config), step: String(step) });
}

/**
 * The run as a training bundle (@normkit/tensor's `saveBundle`: model.safetensors, optimizer.safetensors
 * with Adam's or SGD's buffers, bundle.json with the architecture, the optimizer's hyperparameters and
 * step counts and the schedule's position), zipped into one file: `normkit_torch.bundle.load_bundle`
 * continues it in PyTorch once unzipped, and `loadBundle` in normkit. fflate writes the zip (a small,
 * maintained library, browser and Node alike). The conditional-generation task has two optimizers,
 * which a bundle cannot hold: refused with the reason.
 */
export function exportBundle(trainer: Trainer): Uint8Array {
  const parts = trainer.bundleParts();
  if (parts === null) {
    throw new Error('a training bundle holds one optimizer; the conditional-generation task trains two (generator and discriminator): download the weights instead');
  }
  const files = saveBundle({ model: trainer.model, ...parts });
  return zipSync(files, { level: 6 });
}

/** The classifier with a plain tensor forward (`Classifier.forward` takes `{ x, mask }`), for exportOnnx. */
export class TensorInputClassifier extends Module {
  constructor(readonly model: Module) {
    super();
    this.registerModule('model', model);
  }

  override forward(x: Tensor): Tensor {
    return (this.model as unknown as Classifier).forward({ x });
  }
}

const activations = { relu: new ReLU(), tanh: new Tanh(), gelu: new GELU() } as const;

/** Lowerings of the experiment engine's MLP (vector inputs) and of what it is made of. */
export const playgroundLowerings: readonly AnyLowering[] = [
  defineLowering({ loweringVersion: 'v1', module: TensorInputClassifier, lower: (m, [x], ctx) => ctx.lower(m.model, [x!], 'model') }),
  defineLowering({
    loweringVersion: 'v1',
    module: Mlp,
    lower(m, [x], ctx) {
      if (m.inputKind !== 'vector') throw ctx.unsupported('an MLP on vector inputs', `inputKind "${m.inputKind}"`);
      let y = x!;
      for (const [name, layer] of m.layers.namedChildren()) y = ctx.lower(layer, [y], `layers.${name}`);
      return ctx.lower(m.head, [y], 'head');
    },
  }),
  defineLowering({
    loweringVersion: 'v1',
    module: DenseLayer,
    lower(m, [x], ctx) {
      const normalized = ctx.lower(m.norm, [ctx.lower(m.linear, [x!], 'linear')], 'norm');
      return ctx.lower(activations[m.activation], [normalized], m.activation);
    },
  }),
  defineLowering({
    loweringVersion: 'v1',
    module: NormSlot,
    lower(m, [x], ctx) {
      if (!m.normalizer || !m.traits) return x!;
      if (m.layout !== 'features') throw ctx.unsupported('a normalization slot on features [N, C]', `layout "${m.layout}"`);
      if (m.traits.needsCondition || m.traits.needsLabels) throw ctx.unsupported('a normalizer without condition or labels', `"${m.choice.name}"`);
      return ctx.lower(m.normalizer, [x!], m.choice.name);
    },
  }),
  defineLowering({ loweringVersion: 'v1', module: ActivationTap, lower: (_m, [x]) => x! }),
  ...batchLowerings, ...layerLowerings, ...groupLowerings, ...switchableLowerings, ...weightLowerings, ...conditionalLowerings,
];

/**
 * The eval model as ONNX (opset 17, batch axis dynamic), input `input` [batch, features] and
 * output `logits` [batch, classes]. A model or normalizer without a lowering fails with
 * @normkit/onnx's error naming the module.
 */
export function exportModelOnnx(model: Module, features: number): Uint8Array {
  return exportOnnx(new TensorInputClassifier(model), {
    inputs: [{ shape: [1, features] }],
    outputNames: ['logits'],
    dynamicAxes: { input: { 0: 'batch' } },
    lowerings: playgroundLowerings,
  });
}
