import fp from 'fastify-plugin'

/**
 * Once the app is closing, every response still being answered asks its client to close the connection. Node
 * closes the connections that are idle when the server closes, but not those that turn idle later: a keep-alive
 * connection of a request that was in flight at SIGTERM would otherwise keep the process alive for the whole
 * keep-alive timeout.
 */
export default fp(async (app) => {
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', async (_req, reply) => {
    if (closing) reply.header('connection', 'close')
  })
}, { name: 'shutdown' })
