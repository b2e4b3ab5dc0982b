import { execFileSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { breakingChanges } from './contract/breaking-changes.js'

/**
 * Fails when openapi/openapi.json breaks clients of the previous committed version: the committed one when the
 * working file has changed, else the one before the last commit that changed it on this branch's own line of
 * history (what CI sees on a fresh clone; a merged branch's commits are not versions that main served).
 */
const FILE = 'openapi/openapi.json'
const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 })

const working = await readFile(new URL(`../${FILE}`, import.meta.url), 'utf8')
const committed = git('show', `HEAD:${FILE}`)
let base: { label: string, content: string } | undefined
if (working !== committed) {
  base = { label: 'HEAD', content: committed }
} else {
  const [, previous] = git('log', '--first-parent', '-n', '2', '--format=%H', '--', FILE).trim().split('\n')
  if (previous) base = { label: previous.slice(0, 12), content: git('show', `${previous}:${FILE}`) }
}
if (!base) {
  console.log(`${FILE}: no earlier version to compare with`)
} else {
  const breaking = await breakingChanges(JSON.parse(base.content), JSON.parse(working))
  if (breaking.length === 0) {
    console.log(`${FILE}: compatible with ${base.label}`)
  } else {
    console.error(`${FILE}: ${breaking.length} breaking change(s) against ${base.label}:`)
    for (const change of breaking) console.error(`  ${change.code} at ${change.where}`)
    process.exitCode = 1
  }
}
