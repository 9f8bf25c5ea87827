import { SyncBatchNorm } from '@normkit/batch';
import { InProcessGroup, add, concat, slice, type DType, type Tensor } from '@normkit/tensor';
import { expect, it } from 'vitest';
import { CaseTensors, FixtureError, configValue, type FixtureCase } from './fixtures';
import { DTYPES, describeFixture } from './normalizer-parity';
import { TOLERANCES, expectMatches } from './tolerance';

/** What one replica saw and produced over the training steps. */
interface ReplicaRecord {
  outputs: Tensor[];
  inputGradients: Tensor[];
  parameterGradients: Record<string, Tensor>[];
  state: Record<string, Tensor>;
}

/** Replica `rank` of a SyncBatchNorm group: its slice of every step's batch, forward and backward. */
function replica(group: InProcessGroup, fixtureCase: FixtureCase, dtype: DType): ReplicaRecord {
  const tensors = new CaseTensors(fixtureCase, dtype);
  const split = configValue<number[]>(fixtureCase, 'split');
  const start = split.slice(0, group.rank).reduce((a, b) => a + b, 0);
  const end = start + split[group.rank]!;
  const module = new SyncBatchNorm({
    numFeatures: configValue(fixtureCase, 'numFeatures'), eps: configValue(fixtureCase, 'eps'), momentum: configValue(fixtureCase, 'momentum'), dtype, group,
  });
  module.loadStateDict(tensors.stateDict('state'));
  module.train();
  const record: ReplicaRecord = { outputs: [], inputGradients: [], parameterGradients: [], state: {} };
  for (let k = 0; k < fixtureCase.trainSteps!; k++) {
    module.zeroGrad();
    const x = slice(tensors.get(`train.${k}.input`), 0, start, end).clone().requireGrad();
    const y = module.forward(x);
    y.backward(slice(tensors.get(`train.${k}.grad_output`), 0, start, end));
    record.outputs.push(y.detach());
    record.inputGradients.push(x.grad!);
    record.parameterGradients.push(Object.fromEntries([...module.namedParameters()].map(([name, p]) => [name, p.grad!])));
  }
  record.state = module.stateDict();
  return record;
}

// SyncBatchNorm over K in-process replicas (uneven splits included) against torch's BatchNorm on the
// concatenated batch (torch's own SyncBatchNorm does not run on CPU): outputs and input gradients
// match slice by slice, parameter gradients summed over replicas match the full-batch ones, and
// every replica ends with the full-batch running statistics.
describeFixture('sync-batch-norm', (fixture) => {
  for (const dtype of DTYPES) {
    for (const fixtureCase of fixture.cases) {
      it(`${fixtureCase.name} (${dtype}): ${fixtureCase.description}`, () => {
        if (fixtureCase.trainSteps === undefined) throw new FixtureError(fixtureCase.name, 'has no trainSteps');
        const tensors = new CaseTensors(fixtureCase, dtype);
        const { forward, gradient } = TOLERANCES[dtype];
        const split = configValue<number[]>(fixtureCase, 'split');
        const replicas = InProcessGroup.run(split.length, (group) => replica(group, fixtureCase, dtype));
        for (let k = 0; k < fixtureCase.trainSteps; k++) {
          expectMatches(`step ${k} output`, concat(replicas.map((r) => r.outputs[k]!), 0), tensors.get(`train.${k}.output`), forward);
          expectMatches(`step ${k} input gradient`, concat(replicas.map((r) => r.inputGradients[k]!), 0), tensors.get(`train.${k}.grad_input`), gradient);
          for (const name of ['weight', 'bias']) {
            const summed = replicas.map((r) => r.parameterGradients[k]![name]!).reduce((a, b) => add(a, b));
            expectMatches(`step ${k} gradient of ${name}, summed over replicas`, summed, tensors.get(`train.${k}.grad_${name}`), gradient);
          }
        }
        for (const [rank, r] of replicas.entries()) {
          for (const [key, expected] of Object.entries(tensors.stateDict('final'))) {
            expectMatches(`replica ${rank} state "${key}" after training`, r.state[key], expected, forward);
          }
        }
        expect(replicas).toHaveLength(split.length);
      });
    }
  }
});
