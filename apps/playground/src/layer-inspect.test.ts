import { createTrainer, snapshotBuffers, type DenseLayer, type ExperimentConfig, type Mlp } from '@normkit/experiments';
import { ValueError } from '@normkit/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultDraft, validateDraft } from './drafts';
import { channelMoments, histogram, inspectLayer, recordNormLayers } from './layer-inspect';
import { registerPlugins } from './plugins';

beforeAll(() => registerPlugins());

function config(normalizer: string): ExperimentConfig {
  const check = validateDraft(defaultDraft(normalizer));
  if (!check.ok) throw new Error(check.message);
  return check.config;
}

describe('histogram', () => {
  it('counts every finite value once, in equal-width bins from min to max', () => {
    const h = histogram([0, 1, 2, 3, NaN, Infinity, 4], 4);
    expect(h).toEqual({ min: 0, max: 4, counts: [1, 1, 1, 2] });
    expect(histogram([5, 5, 5], 2)).toEqual({ min: 4.5, max: 5.5, counts: [0, 3] });
  });
});

describe('channelMoments', () => {
  it('is the per-channel mean and biased variance, channels last or at axis 1', () => {
    // [N=2, C=2]: channel 0 = {1, 3}, channel 1 = {2, 6}.
    expect(channelMoments([1, 2, 3, 6], [2, 2], 1)).toEqual({ mean: [2, 4], variance: [1, 4] });
    // [N=1, C=2, H=2]: channel 0 = {1, 3}, channel 1 = {2, 6}.
    expect(channelMoments([1, 3, 2, 6], [1, 2, 2], 1)).toEqual({ mean: [2, 4], variance: [1, 4] });
  });
});

describe('recordNormLayers and inspectLayer', () => {
  it("show a BatchNorm's input and output in the last training step, its batch and running statistics, and change nothing", () => {
    const recorded = createTrainer(config('batch-norm'), {}, { keepHistory: false });
    const { recordings, stop } = recordNormLayers(recorded.model);
    expect(inspectLayer(recorded.model, recordings, 0)).toBeNull(); // nothing recorded before a training step
    recorded.run(25); // 25 steps and one evaluation after the last (eval-mode and no-grad passes are not recorded)
    const model = recorded.model as unknown as Mlp;
    const layers = [...model.layers] as DenseLayer[];
    const view = inspectLayer(recorded.model, recordings, recorded.completedSteps, 'layers.1.norm')!;
    expect(view.layers).toEqual(['layers.0.norm', 'layers.1.norm', 'layers.2.norm']);
    expect(view).toMatchObject({ layer: 'layers.1.norm', normalizer: 'batch-norm', step: 25 });

    // The run is the run without the recorder: same losses, same buffers.
    const plain = createTrainer(config('batch-norm'), {}, { keepHistory: false });
    plain.run(25);
    expect(snapshotBuffers(recorded.model).map((b) => Array.from(b.data))).toEqual(snapshotBuffers(plain.model).map((b) => Array.from(b.data)));
    expect(recorded.run(3).last!.loss).toBe(plain.run(3).last!.loss);
    stop();
    expect(Object.hasOwn(layers[1]!.norm, 'forward')).toBe(false);

    // A second recorded run gives the same view; its recorded tensors are the reference below.
    const replay = createTrainer(config('batch-norm'), {}, { keepHistory: false });
    const replayRecorder = recordNormLayers(replay.model);
    replay.run(25);
    const again = inspectLayer(replay.model, replayRecorder.recordings, 25, 'layers.1.norm')!;
    expect(again.batchMean).toEqual(view.batchMean);
    const { input, output } = replayRecorder.recordings.get('layers.1.norm')!;
    // From the training step itself (autograd on), not from the evaluation's no-grad passes after it.
    expect(output.requiresGrad).toBe(true);
    const reference = channelMoments(input.data, input.shape, 1);
    expect(view.batchMean).toEqual(reference.mean);
    expect(view.batchVar).toEqual(reference.variance);
    expect(view.pre).toEqual(histogram(input.data));
    expect(view.post).toEqual(histogram(output.data));
    // Training mode: the output is the input standardised with this batch's statistics (then scaled
    // by gamma > 0 and shifted), so both standardise to the same values.
    const post = channelMoments(output.data, output.shape, 1);
    for (let i = 0; i < input.size; i++) {
      const c = i % 32;
      const zIn = (input.data[i]! - reference.mean[c]!) / Math.sqrt(reference.variance[c]! + 1e-5);
      const zOut = (output.data[i]! - post.mean[c]!) / Math.sqrt(post.variance[c]!);
      expect(Math.abs(zIn - zOut)).toBeLessThan(1e-3);
    }
    const bn = ([...(replay.model as unknown as Mlp).layers] as DenseLayer[])[1]!.norm.normalizer!;
    // Running statistics as the normalizer holds them.
    const buffers = Object.fromEntries([...bn.namedBuffers()].map(([k, t]) => [k, Array.from(t.data)]));
    expect(again.runningMean).toEqual(buffers.running_mean);
    expect(again.runningVar).toEqual(buffers.running_var);
  });

  it('has no running statistics for LayerNorm, and shows the first layer by default', () => {
    const trainer = createTrainer(config('layer-norm'), {}, { keepHistory: false });
    const { recordings } = recordNormLayers(trainer.model);
    trainer.run(1);
    const view = inspectLayer(trainer.model, recordings, 1)!;
    expect(view.layer).toBe('layers.0.norm');
    expect(view.runningMean).toBeNull();
    expect(view.runningVar).toBeNull();
  });

  it('refuses a layer the model does not have, listing the ones it has', () => {
    const trainer = createTrainer(config('batch-norm'), {}, { keepHistory: false });
    const none = new Map();
    expect(() => inspectLayer(trainer.model, none, 0, 'head')).toThrow(ValueError);
    expect(() => inspectLayer(trainer.model, none, 0, 'head')).toThrow(
      'inspectLayer: expected one of the model\'s normalization layers (layers.0.norm, layers.1.norm, layers.2.norm), got "head"',
    );
    const plain = createTrainer(config('none'), {}, { keepHistory: false });
    expect(() => inspectLayer(plain.model, none, 0)).toThrow(/a model with a normalizer in one of its slots, got a model without normalizers/);
  });
});
