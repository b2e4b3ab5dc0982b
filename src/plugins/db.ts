import fp from 'fastify-plugin'
import type { Database, Db } from '../db/client.js'
import { createReadReplicas, parseReadUrls, type ReadReplicaOptions, type ReadReplicas } from '../db/replicas.js'

declare module 'fastify' {
  interface FastifyInstance {
    db: Db
    database: Database
    /** The read replicas (`DATABASE_READ_URLS`), when there are any. */
    readReplicas: ReadReplicas | undefined
  }
}

export interface DbPluginOptions {
  database: Database
  /** `DATABASE_READ_URLS` and how replica pools are built; without URLs every query goes to `database`. */
  readReplicas?: Omit<ReadReplicaOptions, 'urls' | 'log'> & { urls: string }
}

/**
 * Shares the database the app was built with, and closes it with the app. With read replicas, `app.db` reads
 * from the replica that plugins/read-consistency.ts chose for the current read, and is the primary otherwise.
 */
export default fp<DbPluginOptions>(async (app, { database, readReplicas: replicaOptions }) => {
  const urls = parseReadUrls(replicaOptions?.urls ?? '')
  const replicas = urls.length > 0 ? await createReadReplicas(database, { ...replicaOptions!, urls, log: app.log }) : undefined
  app.decorate('database', database)
  app.decorate('db', replicas?.db ?? database.db)
  app.decorate('readReplicas', replicas)
  app.addHook('onClose', async () => {
    await replicas?.close()
    await database.close()
  })
}, { name: 'db' })
