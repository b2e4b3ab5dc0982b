import { readdir } from 'node:fs/promises'
import t from 'tap'

/**
 * The suite's test files, in the groups that `npm test` runs: one process per group instead of one per file,
 * because loading the app's modules and starting PGlite cost a few seconds of CPU in every process, more than
 * most files spend testing. Groups are sized to take similar times; an entry ending in `/` is a whole directory.
 * Every test file belongs to exactly one group: each group checks that, so that a new file cannot go unrun.
 */
export const GROUPS: Record<string, string[]> = {
  'domain-and-cli': ['domain/', 'bench/', 'cli/keys.test.ts', 'db/unavailable.test.ts', 'webhooks/send.test.ts', 'sdk/helpers.test.ts'],
  'server-and-contract': ['server.test.ts', 'contract/breaking-changes.test.ts', 'db/data-dir-lock.test.ts', 'db/migrations.test.ts', 'db/read-replicas.test.ts'],
  pagination: ['routes/events-pagination.test.ts', 'routes/regions.test.ts', 'routes/smoke.test.ts'],
  'changes-and-companies': ['routes/changes.test.ts', 'routes/companies.test.ts', 'routes/sources.test.ts'],
  'facets-meta-export': ['routes/insight-facets.test.ts', 'routes/meta.test.ts', 'routes/events-export.test.ts'],
  'webhooks-and-yale': ['webhooks/delivery.test.ts', 'webhooks/restart.test.ts', 'sdk/partner-scenario.test.ts', 'routes/webhooks.test.ts', 'imports/yale.test.ts'],
  plugins: ['plugins/'],
  events: ['routes/idempotency.test.ts', 'routes/events.test.ts', 'routes/errors.test.ts', 'routes/events-validation.test.ts', 'routes/write-conflicts.test.ts'],
  insight: ['routes/insight-status.test.ts', 'routes/events-list.test.ts', 'routes/insight-rollups.test.ts', 'routes/insight-match.test.ts',
    'routes/insight-timeline.test.ts'],
  'bulk-and-history': ['routes/api-keys.test.ts', 'routes/imports.test.ts', 'routes/revisions.test.ts',
    'routes/known-at.test.ts', 'openapi.test.ts', 'db/integrity.test.ts'],
  security: ['security/']
}

const testDir = new URL('../', import.meta.url)

/** Every test file under test/, outside this directory and the suites that start servers of their own (`npm run test:faults`, `test:scale`), relative to test/. */
async function testFiles (): Promise<string[]> {
  const entries = await readdir(testDir, { recursive: true })
  return entries.map((e) => e.replaceAll('\\', '/')).filter((e) => e.endsWith('.test.ts') && !e.startsWith('groups/') && !e.startsWith('faults/') && !e.startsWith('scale/')).sort()
}

const inGroup = (file: string, entries: string[]) => entries.some((e) => (e.endsWith('/') ? file.startsWith(e) : file === e))

/** Imports the test files of one group, in order, into this process: their tests run one after another. */
export async function runGroup (name: string): Promise<void> {
  const files = await testFiles()
  const unplaced = files.filter((f) => Object.values(GROUPS).filter((entries) => inGroup(f, entries)).length !== 1)
  if (unplaced.length > 0) t.fail(`test files in no group, or in several (see test/groups/index.ts): ${unplaced.join(', ')}`)
  const groupFiles = new Set((await readdir(new URL('./', import.meta.url))).filter((f) => f.endsWith('.test.ts')).map((f) => f.slice(0, -'.test.ts'.length)))
  const unrun = Object.keys(GROUPS).filter((g) => !groupFiles.has(g))
  if (unrun.length > 0) t.fail(`groups without a test/groups/<name>.test.ts to run them: ${unrun.join(', ')}`)
  for (const file of files.filter((f) => inGroup(f, GROUPS[name]!))) await import(new URL(file, testDir).href)
}
