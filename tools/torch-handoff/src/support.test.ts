/**
 * Every key normkit's model families accept is honoured by normkit_torch.models.build or refused there with a
 * reason, never silently ignored: the families (options, norm roles, weight roles, input kinds), every
 * registered normalizer, weight parametrization and block wrapper of the family packages with each option of
 * its schema, compared with what `normkit_torch.models.support()` lists (build refuses anything not listed).
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { batchPlugins } from '@normkit/batch';
import { conditionalPlugins } from '@normkit/conditional';
import { models } from '@normkit/experiments';
import { groupPlugins } from '@normkit/group';
import { layerPlugins } from '@normkit/layer';
import { normFreeBlockWrappers, normFreePlugins } from '@normkit/norm-free';
import { switchablePlugins } from '@normkit/switchable';
import type { AnyPlugin } from '@normkit/tensor';
import { weightPlugins } from '@normkit/weight';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Support {
  models: Record<string, { options: string[]; norms: string[]; weights: string[]; inputs: string[] }>;
  normalizers: Record<string, string[]>;
  weights: Record<string, string[]>;
  wrappers: Record<string, string[]>;
  refused: { normalizers: Record<string, string> };
}

let support: Support;
const plugins: readonly AnyPlugin[] = [...batchPlugins, ...conditionalPlugins, ...groupPlugins, ...layerPlugins, ...normFreePlugins, ...switchablePlugins, ...weightPlugins];
const sorted = (keys: readonly string[]) => [...keys].sort();

beforeAll(() => {
  const script = 'import json, sys; sys.path.insert(0, sys.argv[1]); from normkit_torch import models; print(json.dumps(models.support()))';
  support = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, join(ROOT, 'python', 'normkit_torch')], { timeout: 60_000 }).toString()) as Support;
});

describe('normkit_torch.models.support() covers every key normkit accepts', () => {
  it('every model family: options, norm roles, weight roles and input kinds', () => {
    expect(sorted(Object.keys(support.models))).toEqual(expect.arrayContaining(Object.keys(models)));
    for (const [name, definition] of Object.entries(models)) {
      const mine = support.models[name]!;
      expect(sorted(mine.options), `${name} options`).toEqual(sorted(Object.keys(definition.options)));
      expect(mine.norms, `${name} norm roles`).toEqual(definition.normRoles.map((r) => r.name));
      expect(mine.weights, `${name} weight roles`).toEqual([...definition.weightRoles]);
      expect(sorted(mine.inputs), `${name} input kinds`).toEqual(sorted(definition.inputKinds));
    }
  });

  it('every normalizer of the family packages is mapped with every option of its schema, or refused with the reason', () => {
    for (const plugin of plugins.filter((p) => p.kind === 'normalizer')) {
      if (plugin.name in support.refused.normalizers) {
        expect(support.refused.normalizers[plugin.name]!.length, plugin.name).toBeGreaterThan(20);
        continue;
      }
      expect(support.normalizers[plugin.name], `normalizer ${plugin.name} is neither mapped nor refused`).toBeDefined();
      expect(sorted(support.normalizers[plugin.name]!), plugin.name).toEqual(sorted(Object.keys(plugin.options)));
    }
  });

  it('every weight parametrization with every option, and every block wrapper with its options', () => {
    const parametrizations = plugins.filter((p) => p.kind === 'weight-parametrization');
    expect(sorted(Object.keys(support.weights))).toEqual(sorted(parametrizations.map((p) => p.name)));
    for (const plugin of parametrizations) expect(sorted(support.weights[plugin.name]!), plugin.name).toEqual(sorted(Object.keys(plugin.options)));
    const wrappers = [{ name: 'plain', options: {} }, ...normFreeBlockWrappers];
    expect(sorted(Object.keys(support.wrappers))).toEqual(sorted(wrappers.map((w) => w.name)));
    for (const wrapper of wrappers) expect(sorted(support.wrappers[wrapper.name]!), wrapper.name).toEqual(sorted(Object.keys(wrapper.options)));
  });
});
