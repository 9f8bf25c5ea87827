// Taking a trained model away from the playground: its weights as safetensors (normkit's state-dict
// keys, which follow PyTorch's names: `weight`, `bias`, `running_mean`, `running_var`,
// `num_batches_tracked`) and, for the MLP on vector data, the eval model as ONNX through
// @normkit/onnx. Runs in the worker, which owns the model.
import { ActivationTap, DenseLayer, Mlp, NormSlot, encodeConfig, type Classifier, type ExperimentConfig } from '@normkit/experiments';
import { defineLowering, exportOnnx, type AnyLowering } from '@normkit/onnx';
import { batchLowerings } from '@normkit/onnx/batch';
import { conditionalLowerings } from '@normkit/onnx/conditional';
import { groupLowerings } from '@normkit/onnx/group';
import { layerLowerings } from '@normkit/onnx/layer';
import { switchableLowerings } from '@normkit/onnx/switchable';
import { weightLowerings } from '@normkit/onnx/weight';
import { GELU, Module, ReLU, Tanh, saveSafetensors, type Tensor } from '@normkit/tensor';

/** The model's state dict as safetensors bytes; the metadata names the config (its link string) and the step. */
export function exportSafetensors(model: Module, config: ExperimentConfig, step: number): Uint8Array {
  return saveSafetensors(model.stateDict(), { format: 'pt', producer: 'normkit playground', config: encodeConfig(config), step: String(step) });
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
