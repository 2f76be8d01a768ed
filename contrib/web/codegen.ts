import type { CodegenConfig } from '@graphql-codegen/cli'

/** Operations are typed from the committed contract; a schema change that breaks one fails here or in vue-tsc. */
const config: CodegenConfig = {
  schema: '../../tests/schema.graphql',
  documents: ['src/**/*.ts', '!src/gql/**/*'],
  ignoreNoDocuments: false,
  generates: {
    './src/gql/': {
      preset: 'client',
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { DateTime: 'string', Date: 'string', Upload: 'File', JSON: 'Record<string, unknown>' },
        strictScalars: true,
      },
      presetConfig: { fragmentMasking: false },
    },
  },
}
export default config
