import { describeMismatch, findMismatch, type WeightParametrizationPlugin } from '@normkit/tensor';
import { attempt, checkResult, diffSnapshots, formatShapeList, snapshotState, type CheckResult } from '../../result';
import { ParametrizationHarness, type ParametrizationSuiteConfig } from './harness';

/**
 * Registration through the core `registerParametrization`, in float32 and float64:
 * - `plugin.create` builds the parametrization without touching the host module;
 * - the parametrized tensor keeps its shape and dtype, in training and eval;
 * - the state dict follows PyTorch's scheme: `parametrizations.<name>.original` (or `original0`,
 *   `original1`, ...) replaces `<name>`;
 * - with `preservesValue`, the tensor's value is unchanged by registration.
 */
export function checkRegistration(plugin: WeightParametrizationPlugin, config: ParametrizationSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new ParametrizationHarness(plugin, config);
  const name = harness.tensorName;
  for (const dtype of harness.dtypes) {
    attempt(failures, dtype, () => {
      const host = harness.host(dtype);
      const before = harness.hostTensor(host).clone();
      const snapshot = snapshotState(host);
      harness.build(host, dtype);
      for (const change of diffSnapshots(snapshot, snapshotState(host))) failures.push(`${dtype}: plugin.create changed the host: ${change}`);
      const target = harness.parametrize(dtype, harness.host(dtype));
      for (const mode of ['train', 'eval'] as const) {
        target.module.train(mode === 'train');
        const value = target.read();
        const label = `${dtype} ${mode}`;
        if (formatShapeList(value.shape) !== formatShapeList(before.shape)) failures.push(`${label}: shape ${formatShapeList(value.shape)}, expected ${formatShapeList(before.shape)}`);
        if (value.dtype !== dtype) failures.push(`${label}: dtype ${value.dtype}, expected ${dtype}`);
        if (config.preservesValue) {
          const { atol, rtol } = harness.tolerance(dtype);
          const mismatch = findMismatch(value, before, atol, rtol);
          if (mismatch) failures.push(`${label}: declares preservesValue, but registration changed ${name}: ${describeMismatch(mismatch, atol, rtol)}`);
        }
      }
      const keys = Object.keys(target.module.stateDict());
      if (keys.includes(name)) failures.push(`${dtype}: the state dict still has "${name}" after registration`);
      const prefix = `parametrizations.${name}.original`;
      // One original is `original`; several are `original0`, `original1`, ...
      const isOriginal = (key: string): boolean => key.startsWith(prefix) && /^\d*$/.test(key.slice(prefix.length));
      if (!keys.some(isOriginal)) {
        failures.push(`${dtype}: no "${prefix}" (or "${prefix}0", ...) in the state dict: ${keys.join(', ')}`);
      }
    });
  }
  return checkResult('registration', failures, `registers with PyTorch's state-dict keys, keeping shape and dtype${config.preservesValue ? ' and value' : ''}`);
}
