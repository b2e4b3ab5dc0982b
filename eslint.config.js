import neostandard from 'neostandard'

// The layering rules of STYLE.md §1, enforced rather than remembered: handlers reach the database only
// through services, and the tables never depend on the API contract. Imports are written relative, so
// the patterns match a path segment wherever it appears (`../../db/schema.js`, `../schemas/events.js`).
const routesMayNotImport = {
  paths: [{ name: 'drizzle-orm', message: 'Routes call services; queries live in src/services/.' }],
  patterns: [
    { group: ['drizzle-orm/*'], message: 'Routes call services; queries live in src/services/.' },
    { regex: '(^|/)db(/|$)', message: 'Routes never import src/db/: go through a service.' }
  ]
}

const dbMayNotImport = {
  patterns: [
    { regex: '(^|/)schemas(/|$)', message: 'src/db/ never imports the API contract (src/schemas/): map rows to DTOs in a service.' }
  ]
}

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'coverage/**', '.tap/**', 'node_modules/**', 'openapi/**', 'clients/typescript/src/schema.d.ts']
  }),
  {
    // STYLE.md §3 names a schema and its type alike (`export const Task = Type…` with
    // `export type Task = Static<typeof Task>`), which this rule reports; TypeScript itself (ts 2451)
    // still rejects every real redeclaration.
    files: ['**/*.ts'],
    rules: { '@typescript-eslint/no-redeclare': 'off' }
  },
  {
    files: ['src/routes/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', routesMayNotImport] }
  },
  {
    files: ['src/db/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', dbMayNotImport] }
  }
]
