import { AsyncLocalStorage } from 'node:async_hooks'
import type { Db, Tx } from './client.js'

const joined = new AsyncLocalStorage<Tx>()

/**
 * The database as services see it: inside `joinTransaction`, every query and transaction runs in that
 * transaction (a service's own transaction becomes a savepoint), so that a write and what guards it
 * (an idempotency key's stored response) commit or roll back together.
 */
export function ambientDb (db: Db): Db {
  return new Proxy(db, {
    get (target, property) {
      const base = joined.getStore() ?? target
      const value = Reflect.get(base, property, base)
      return typeof value === 'function' ? value.bind(base) : value
    }
  })
}

/** Runs `work` with the ambient database bound to `tx`. */
export function joinTransaction<T> (tx: Tx, work: () => Promise<T>): Promise<T> {
  return joined.run(tx, work)
}
