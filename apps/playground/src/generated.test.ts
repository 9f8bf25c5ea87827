import { createTrainer, snapshotBuffers, streamGenerator, type ConditionalGan, type ExperimentConfig } from '@normkit/experiments';
import { ValueError, noGrad, randn } from '@normkit/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultDraft, normChoice, validateDraft, withTask } from './drafts';
import { generatedSamples } from './generated';
import { registerPlugins } from './plugins';

beforeAll(() => registerPlugins());

function ganConfig(): ExperimentConfig {
  const draft = withTask(defaultDraft(), 'conditional-generation');
  for (const role of Object.keys(draft.norms)) draft.norms[role] = normChoice('batch-norm');
  const check = validateDraft(draft);
  if (!check.ok) throw new Error(check.message);
  return check.config;
}

describe('generatedSamples', () => {
  it('generates per class from fixed noise in eval mode, and leaves the run as it was', () => {
    const trainer = createTrainer(ganConfig(), {}, { keepHistory: false });
    trainer.run(10);
    const before = snapshotBuffers(trainer.model).map((b) => Array.from(b.data));
    expect(before.length).toBeGreaterThan(0); // BatchNorm's running statistics, in the generator or discriminator
    const view = generatedSamples(trainer.model, trainer.dataset, 10, trainer.config.seed, 5);
    expect(snapshotBuffers(trainer.model).map((b) => Array.from(b.data))).toEqual(before);
    expect([...trainer.model.namedModules()].every(([, m]) => m.training)).toBe(true);
    expect(Array.from(view.generatedLabels)).toEqual(Array.from({ length: 5 * view.numClasses }, (_, i) => Math.floor(i / 5)));
    expect(view.generated).toHaveLength(2 * 5 * view.numClasses);
    // The same noise every time: a second call gives the same points.
    expect(Array.from(generatedSamples(trainer.model, trainer.dataset, 10, trainer.config.seed, 5).generated)).toEqual(Array.from(view.generated));
    // And they are the generator's eval output on the view's noise stream.
    const gan = trainer.model as unknown as ConditionalGan;
    gan.eval();
    const z = randn([5 * view.numClasses, gan.latentDim], { generator: streamGenerator(trainer.config.seed, 'playground-view-noise') });
    const reference = noGrad(() => gan.generate(z, view.generatedLabels).data);
    gan.train();
    expect(Array.from(view.generated)).toEqual(Array.from(reference));
    // The run continues exactly like one whose views were never drawn.
    const twin = createTrainer(ganConfig(), {}, { keepHistory: false });
    twin.run(10);
    expect(trainer.run(3).last!.loss).toBe(twin.run(3).last!.loss);
  });

  it('refuses a data set that is not 2-D generation', () => {
    const check = validateDraft(defaultDraft('batch-norm'));
    const trainer = createTrainer(check.ok ? check.config : ganConfig(), {}, { keepHistory: false });
    expect(() => generatedSamples(trainer.model, trainer.dataset, 0, 0)).toThrow(ValueError);
  });
});
