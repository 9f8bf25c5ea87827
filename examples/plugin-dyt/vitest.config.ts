import { defineConfig } from 'vitest/config';

// Inside the normkit monorepo, tests run against the packages' sources (the `source` export
// condition), with no build first. In your own repository, with @normkit/* installed from npm,
// you need no vitest config at all.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
});
