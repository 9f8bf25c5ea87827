// Taking a trained model away from the playground: its weights as safetensors (normkit's state-dict
// keys, which follow PyTorch's names: `weight`, `bias`, `running_mean`, `running_var`,
// `num_batches_tracked`), the whole run as a training bundle that continues in PyTorch, and the eval
// classifier as ONNX through @normkit/onnx. Runs in the worker, which owns the model.
import { encodeConfig, type DataSpec, type ExperimentConfig, type Trainer } from '@normkit/experiments';
import { exportClassifierOnnx } from '@normkit/experiments/onnx';
import { conditionalLowerings } from '@normkit/onnx/conditional';
import { normFreeLowerings } from '@normkit/onnx/norm-free';
import { switchableLowerings } from '@normkit/onnx/switchable';
import { weightLowerings } from '@normkit/onnx/weight';
import { saveBundle, saveSafetensors, type Module } from '@normkit/tensor';
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

/**
 * Lowerings of the normalizer families the playground registers beyond batch, group and layer (which
 * exportClassifierOnnx always includes); DyT's comes with its plugin's `onnx` hook.
 */
const familyLowerings = [...switchableLowerings, ...weightLowerings, ...conditionalLowerings, ...normFreeLowerings];

/**
 * The eval model as ONNX (opset 17, batch axis dynamic) through the engine's model lowerings
 * (`@normkit/experiments/onnx`): input `input` [batch, ...sampleShape], output `logits`
 * [batch, classes], for every classifier the playground builds (MLP, CNN, residual net,
 * Transformer). A normalizer without a lowering fails with @normkit/onnx's error naming the module.
 */
export function exportModelOnnx(model: Module, data: Pick<DataSpec, 'inputKind' | 'sampleShape'>): Uint8Array {
  return exportClassifierOnnx(model, data, { lowerings: familyLowerings });
}
