import { afterEach, describe, expect, it } from 'vitest';
import { getBackend, setBackend } from './backend';
import { defineKernel } from './define';

describe('defineKernel', () => {
  const initial = getBackend();
  afterEach(() => setBackend(initial));

  it('runs the implementation of the backend in use, and js where the plugin has no wasm one', () => {
    const both = defineKernel({ name: 'test.both', js: (n: number) => `js ${n}`, wasm: (n: number) => `wasm ${n}` });
    const jsOnly = defineKernel({ name: 'test.jsOnly', js: (n: number) => `js ${n}` });
    setBackend('wasm');
    expect(both(1)).toBe('wasm 1');
    expect(jsOnly(1)).toBe('js 1');
    setBackend('js');
    expect(both(2)).toBe('js 2');
    expect(jsOnly(2)).toBe('js 2');
  });

  it('refuses a definition without a js implementation, naming defineKernel', () => {
    expect(() => defineKernel({ name: 'x', js: undefined as unknown as () => void })).toThrow(/defineKernel: expected a name, a js function/);
    expect(() => defineKernel({ name: '', js: () => 0 })).toThrow(/defineKernel/);
  });
});
