import { AsyncLocalStorage } from 'node:async_hooks'
import { setTimeout } from 'node:timers/promises'
import type { Db, Tx } from './client.js'
import { isTransactionConflict } from './errors.js'

const joined = new AsyncLocalStorage<Tx>()

/** Attempts of a transaction that PostgreSQL keeps aborting for conflicts with concurrent ones. */
const CONFLICT_ATTEMPTS = 3

/**
 * Runs a whole transaction again when PostgreSQL aborted it for a conflict (writers that move the same rollup rows
 * can lock them in opposite orders). Each attempt starts after a short random pause, so that the two writers of a
 * deadlock do not meet again; the last attempt's conflict is thrown.
 */
export async function retryConflicts<T> (transaction: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction()
    } catch (err) {
      if (attempt >= CONFLICT_ATTEMPTS || !isTransactionConflict(err)) throw err
      await setTimeout(Math.random() * 20 * attempt)
    }
  }
}

/**
 * The database as services see it: inside `joinTransaction`, every query and transaction runs in that
 * transaction (a service's own transaction becomes a savepoint), so that a write and what guards it
 * (an idempotency key's stored response) commit or roll back together. A transaction of its own (outside one
 * joined) is retried on conflicts; a savepoint is not, since the conflict aborted the transaction around it.
 */
export function ambientDb (db: Db): Db {
  const transaction: Db['transaction'] = (work, config) => retryConflicts(() => db.transaction(work, config))
  return new Proxy(db, {
    get (target, property) {
      const base = joined.getStore()
      if (base === undefined && property === 'transaction') return transaction
      const value = Reflect.get(base ?? target, property, base ?? target)
      return typeof value === 'function' ? value.bind(base ?? target) : value
    }
  })
}

/** Runs `work` with the ambient database bound to `tx`. */
export function joinTransaction<T> (tx: Tx, work: () => Promise<T>): Promise<T> {
  return joined.run(tx, work)
}
