// @normkit/onnx/switchable: lowerings of @normkit/switchable (register them explicitly, like its plugins).
import { NormalizerMixture, SwitchableNorm, softmaxOf } from '@normkit/switchable';
import type { OnnxValue } from './graph';
import { channelAffine } from './lowerings/statistics';
import { defineLowering } from './registry';

/**
 * SwitchableNorm in eval, as arithmetic on x viewed as [N, C, S]: instance statistics over S,
 * layer statistics derived from them over C (v_ln = mean_c(v_in + (mu_in - mu_ln)^2)), the batch
 * ones the running averages; mixed with the softmaxed importances (constants at export), then
 * (x - mu) / Sqrt(v + eps), reshaped back and the per-channel affine.
 */
export const switchableNormLowering = defineLowering({
  loweringVersion: 'v1',
  module: SwitchableNorm,
  lower(module, [x], ctx) {
    const a = softmaxOf(module.meanWeight.data);
    const b = softmaxOf(module.varWeight.data);
    const n = x!.shape[0]!;
    const c = module.numFeatures;
    const x3 = ctx.node('Reshape', [x!, ctx.int64s([0, 0, -1])], [n, c, '']);
    const muIn = ctx.reduceMean(x3, [2]);
    const dIn = ctx.binary('Sub', x3, muIn);
    const vIn = ctx.reduceMean(ctx.binary('Mul', dIn, dIn), [2]);
    const muLn = ctx.reduceMean(muIn, [1]);
    const dLn = ctx.binary('Sub', muIn, muLn);
    const vLn = ctx.reduceMean(ctx.binary('Add', vIn, ctx.binary('Mul', dLn, dLn)), [1]);
    const weighted = (stat: OnnxValue, w: number, name: string) => ctx.binary('Mul', stat, ctx.scalar(w, name));
    let mu = ctx.binary('Add', weighted(muIn, a[0]!, 'a_in'), weighted(muLn, a[1]!, 'a_ln'));
    let v = ctx.binary('Add', weighted(vIn, b[0]!, 'b_in'), weighted(vLn, b[1]!, 'b_ln'));
    if (module.usingBatchStats) {
      const muBn = ctx.constant(Float32Array.from(module.runningMean!.data, (m) => m * a[2]!), [1, c, 1], { name: 'running_mean_weighted' });
      const vBn = ctx.constant(Float32Array.from(module.runningVar!.data, (r) => r * b[2]!), [1, c, 1], { name: 'running_var_weighted' });
      mu = ctx.binary('Add', mu, muBn);
      v = ctx.binary('Add', v, vBn);
    }
    const normalized = ctx.binary('Div', ctx.binary('Sub', x3, mu), ctx.unary('Sqrt', ctx.binary('Add', v, ctx.scalar(module.eps, 'eps'))));
    const y = ctx.node('Reshape', [normalized, ctx.node('Shape', [x!], [x!.shape.length])], x!.shape);
    return channelAffine(ctx, y, module.weight, module.bias);
  },
});

/**
 * NormalizerMixture in eval: each candidate lowered as its own module (`candidates.0`, ...; their
 * family lowerings or plugin hooks must be available), summed with the weights
 * softmax(logits / temperature) as constants; with `hard: true`, only the argmax candidate. A
 * condition graph input reaches the candidates that read it through `ctx.context`.
 */
export const normalizerMixtureLowering = defineLowering({
  loweringVersion: 'v1',
  module: NormalizerMixture,
  lower(module, [x], ctx) {
    if (module.hard) {
      const best = module.argmax();
      return ctx.lower(module.candidates.at(best), [x!], `candidates.${best}`);
    }
    let mixed: OnnxValue | null = null;
    for (const { index, weight } of module.importance()) {
      const y = ctx.lower(module.candidates.at(index), [x!], `candidates.${index}`);
      const term = ctx.binary('Mul', y, ctx.scalar(weight, `weight_${index}`));
      mixed = mixed ? ctx.binary('Add', mixed, term) : term;
    }
    return mixed!;
  },
});

export const switchableLowerings = [switchableNormLowering, normalizerMixtureLowering] as const;
