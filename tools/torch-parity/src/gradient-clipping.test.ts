import { clipGradNorm, clipGradValue, type NormType } from '@normkit/norm-free';
import { Parameter, Tensor, type DType, type GradientEntry } from '@normkit/tensor';
import { expect, it } from 'vitest';
import { CaseTensors, configValue, type FixtureCase } from './fixtures';
import { DTYPES, describeFixture } from './normalizer-parity';
import { TOLERANCES, expectMatches } from './tolerance';

/** torch's parameters with their gradients before clipping, as named entries. */
function entriesOf(fixtureCase: FixtureCase, tensors: CaseTensors): GradientEntry[] {
  const count = configValue<number>(fixtureCase, 'parameters');
  return Array.from({ length: count }, (_, j) => {
    const parameter = new Parameter(tensors.get(`param.${j}`));
    parameter.grad = tensors.get(`grad_before.${j}`);
    return { name: String(j), parameter };
  });
}

function normTypeOf(fixtureCase: FixtureCase): NormType {
  const normType = configValue<number | 'inf'>(fixtureCase, 'normType');
  return normType === 'inf' ? 'inf' : normType;
}

/** Runs the case through the plain function and the gradient transform; returns what each left and reported. */
function clip(fixtureCase: FixtureCase, dtype: DType, maxNormFactor = 1): { plain: GradientEntry[]; transformed: GradientEntry[]; totals: number[] } {
  const tensors = new CaseTensors(fixtureCase, dtype);
  const plain = entriesOf(fixtureCase, tensors);
  const transformed = entriesOf(fixtureCase, tensors);
  if (configValue<string>(fixtureCase, 'kind') === 'norm') {
    const options = { maxNorm: configValue<number>(fixtureCase, 'maxNorm') * maxNormFactor, normType: normTypeOf(fixtureCase) };
    const total = clipGradNorm(plain, options);
    const report = clipGradNorm(options).apply(transformed);
    return { plain, transformed, totals: [total, report.totalNorm as number] };
  }
  const options = { value: configValue<number>(fixtureCase, 'clipValue') };
  clipGradValue(plain, options);
  clipGradValue(options).apply(transformed);
  return { plain, transformed, totals: [] };
}

// torch.nn.utils.clip_grad_norm_ (norm types 2, inf and 1, clipping and not) and clip_grad_value_
// on three parameters ([4, 3], [4], [2, 3, 3, 3]), through @normkit/norm-free's plain functions and
// its gradient transforms: the total norm torch returns and every clipped gradient.
describeFixture('gradient-clipping', (fixture) => {
  for (const dtype of DTYPES) {
    for (const fixtureCase of fixture.cases) {
      it(`${fixtureCase.name} (${dtype}): ${fixtureCase.description}`, () => {
        const tensors = new CaseTensors(fixtureCase, dtype);
        const { forward, gradient } = TOLERANCES[dtype];
        const { plain, transformed, totals } = clip(fixtureCase, dtype);
        if (tensors.has('total_norm')) {
          for (const [form, total] of [['clipGradNorm(parameters)', totals[0]!], ['clipGradNorm transform report', totals[1]!]] as const) {
            expectMatches(`${form}: total norm`, new Tensor(Float64Array.from([total]), [1]), tensors.get('total_norm').to('float64'), forward);
          }
        }
        for (const [form, entries] of [['plain function', plain], ['gradient transform', transformed]] as const) {
          entries.forEach((entry, j) => expectMatches(`${form}: gradient ${j} after clipping`, entry.parameter.grad, tensors.get(`grad_after.${j}`), gradient));
        }
      });
    }
  }

  it('the comparison is not vacuous: a maxNorm off by 1% fails it', () => {
    const fixtureCase = fixture.cases.find((c) => c.name === 'norm_l2_clipped')!;
    const { plain } = clip(fixtureCase, 'float64', 1.01);
    const expected = new CaseTensors(fixtureCase, 'float64').get('grad_after.0');
    expect(() => expectMatches('gradient 0', plain[0]!.parameter.grad, expected, TOLERANCES.float64.gradient)).toThrow(/gradient 0: element \d+: got/);
  });
});
