import neostandard from 'neostandard'

// the style fastify/demo uses; TypeScript through typescript-eslint's parser (not type-aware)
export default [
  ...neostandard({
    ts: true,
    ignores: ['node_modules', '**/node_modules', 'dist', 'drizzle', 'coverage', '.data', '*.tgz'],
  }),
  {
    rules: {
      // the TypeBox idiom: `const X = Type.Object(…)` and `type X = Static<typeof X>` share a name
      '@typescript-eslint/no-redeclare': 'off',
    },
  },
]
