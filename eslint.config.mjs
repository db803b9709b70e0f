// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The direction of dependencies from DESIGN.md, enforced: each folder of src/ lists the
 * folders it must not import. `http` → `vault` → (`policy`, `audit`, `identity`, `crypto`,
 * `store`) → (`observability`, `errors`, `config`). Nothing imports `http` but `cli`.
 * The store may import only types from `crypto` (the `Sealed` brand), never its code.
 */
const LAYERS = ['config', 'errors', 'observability', 'store', 'crypto', 'identity', 'policy', 'audit', 'vault', 'http', 'cli'];
const FORBIDDEN = {
  config: LAYERS.filter((l) => l !== 'config'),
  errors: LAYERS.filter((l) => l !== 'errors'),
  observability: ['store', 'crypto', 'identity', 'policy', 'audit', 'vault', 'http', 'cli'],
  store: ['identity', 'policy', 'audit', 'vault', 'http', 'cli'],
  crypto: ['identity', 'policy', 'audit', 'vault', 'http', 'cli'],
  identity: ['policy', 'audit', 'vault', 'http', 'cli'],
  policy: ['audit', 'vault', 'http', 'cli'],
  audit: ['policy', 'identity', 'vault', 'http', 'cli'],
  vault: ['http', 'cli'],
  http: ['cli'],
  cli: [],
};
const patternsFor = (layers) => layers.flatMap((l) => [`../${l}`, `../${l}/*`, `../../${l}`, `../../${l}/*`, `../../../${l}/*`]);

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', __dirname: 'readonly', require: 'readonly', module: 'writable', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  ...Object.entries(FORBIDDEN).map(([layer, forbidden]) => ({
    files: [`src/${layer}/**/*.ts`],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            ...(forbidden.length ? [{ group: patternsFor(forbidden), message: `src/${layer} must not depend on this layer (DESIGN.md, direction of dependencies)` }] : []),
            ...(layer === 'store'
              ? [{ group: patternsFor(['crypto']), allowTypeImports: true, message: 'the store may import only types from crypto' }]
              : []),
          ],
        },
      ],
    },
  })),
  {
    files: ['src/**/*.ts'],
    ignores: ['src/config/**'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'only src/config reads the environment' }],
      'no-console': 'error',
    },
  },
  {
    files: ['migrations/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ group: ['../src/*', '../src'], message: 'migrations stand alone' }] }],
    },
  },
);
