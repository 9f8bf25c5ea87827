import { defineConfig, mergeConfig } from 'vitest/config';
import { packageTestConfig } from '../../vitest.shared.ts';

// Unit tests run against the sibling packages' sources (the `source` condition, no build); the
// browser test (test/e2e.test.ts) builds the app itself, so it gets a generous timeout.
export default mergeConfig(packageTestConfig, defineConfig({ test: { testTimeout: 300_000, hookTimeout: 300_000 } }));
