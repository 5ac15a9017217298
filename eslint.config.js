// ESLint for the whole workspace: type-aware typescript-eslint (each file is checked with the tsconfig.json of its own
// app or package, found by the project service), then eslint-config-prettier last so that no rule here argues with the
// formatter. Import layering (cycles, upward imports, fastify below HTTP) is dependency-cruiser's job, not ESLint's:
// see .dependency-cruiser.cjs and docs/architecture.md. `pnpm lint` runs both, and `pnpm test` runs `pnpm lint`.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/.clawd402/**', '**/.turbo/**', 'packages/testkit/artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // The "unnecessary" family: a cast or a check the types already guarantee hides what the code really relies on.
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      '@typescript-eslint/no-unnecessary-type-arguments': 'error',
      '@typescript-eslint/no-unnecessary-boolean-literal-compare': 'error',
      '@typescript-eslint/no-unnecessary-template-expression': 'error',
      '@typescript-eslint/non-nullable-type-assertion-style': 'error',
      '@typescript-eslint/consistent-type-assertions': [
        'error',
        { assertionStyle: 'as', objectLiteralTypeAssertions: 'allow-as-parameter' },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/prefer-nullish-coalescing': ['error', { ignorePrimitives: { boolean: true, string: true } }],
      '@typescript-eslint/prefer-optional-chain': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      // Unused bindings are errors, except the `_`-prefixed ones that document a deliberately ignored parameter.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // Numbers, bigints, booleans and an absent value (printed as null/undefined in a message) are fine in template
      // literals; objects, arrays and `any` are not (they print as [object Object] or hide a missing type).
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true, allowAny: false },
      ],
      // An async method that implements a Promise-returning interface need not await; the real hazards (a promise
      // nobody awaits, a promise where a callback is expected) are no-floating-promises and no-misused-promises.
      '@typescript-eslint/require-await': 'off',
      // node:test's test()/describe() return promises the runner itself tracks; awaiting them is not required.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after'] },
          ],
        },
      ],
      // Fastify hooks and node:test callbacks take async functions where a void callback is declared; that is their API.
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { arguments: false, properties: false } },
      ],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-console': 'off', // CLIs, the bench and the test runner print to the console on purpose; services log with pino.
    },
  },
  {
    // Packages are libraries: configuration reaches them as arguments, never from the environment, so a package
    // behaves the same in the gateway, the signer, a test and the bench. Tests may read their own settings, and so may
    // testkit, which exists only to start test services (TEST_DATABASE_URL, TEST_REDIS_URL, ANVIL_* overrides).
    files: ['packages/*/src/**/*.ts'],
    ignores: ['packages/testkit/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message:
            'packages/* never read process.env: take the value as a parameter from the app that owns the config.',
        },
      ],
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'node:process', importNames: ['env'], message: 'packages/* never read the environment.' }] },
      ],
    },
  },
  {
    // Tests parse HTTP and JSON bodies (typed `any` by inject().json() and JSON.parse) and assert on them field by
    // field; the assertion is the type check, so the no-unsafe-* family would only add casts that prove nothing.
    files: ['**/test/**/*.ts', '**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // For the same reason a parsed body is typed `any` in the test helpers, and may be printed in a message.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true, allowAny: true },
      ],
      // Tests hand stand-ins for parts they do not exercise (`{} as pg.Pool`) and probe prototypes with `{} as ...`.
      '@typescript-eslint/consistent-type-assertions': [
        'error',
        { assertionStyle: 'as', objectLiteralTypeAssertions: 'allow' },
      ],
    },
  },
  {
    // Plain JavaScript (the test runner, the contract compiler, these configs): Node globals, no type information.
    files: ['**/*.{js,mjs,cjs}'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: { ...globals.node } },
  },
  prettier,
);
