import { parseArgs } from 'node:util'
import { SCOPES } from '../db/schema.js'
import type { Scope } from '../services/api-keys.js'

const usage = `usage:
  npm run key:create -- --name NAME [--scopes read,write]   prints the new key alone on its last line
  npm run key:revoke -- --name NAME`

/** Parses `create|revoke --name N [--scopes a,b]`; throws with the usage text on bad input. */
export function parseKeyCommand (argv: string[]): { command: 'create' | 'revoke', name: string, scopes: Scope[] } {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { name: { type: 'string' }, scopes: { type: 'string', default: 'read,write' } }
    })
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${usage}`)
  }
  const { positionals, values } = parsed
  const command = positionals[0]
  if ((command !== 'create' && command !== 'revoke') || !values.name?.trim()) throw new Error(usage)
  const scopes = values.scopes.split(',').map((s) => s.trim())
  const unknown = scopes.find((s) => !(SCOPES as readonly string[]).includes(s))
  if (unknown !== undefined) throw new Error(`unknown scope '${unknown}'; scopes are ${SCOPES.join(', ')}\n${usage}`)
  return { command, name: values.name.trim(), scopes: scopes as Scope[] }
}
