import fp from 'fastify-plugin'

/**
 * Asks the client to close its connection after a response in two cases where keeping it would let the client
 * hold a socket longer than our timeouts allow:
 * - the app is closing: Node closes the connections that are idle when the server closes, but not those that
 *   turn idle later, so a keep-alive connection of a request in flight at SIGTERM would keep the process alive for
 *   the whole keep-alive timeout;
 * - the request's body was not read to its end (refused before it was read, or too slow to arrive): Node would
 *   read and discard the rest for as long as the client kept sending it.
 */
export default fp(async (app) => {
  let closing = false
  app.addHook('preClose', async () => { closing = true })
  app.addHook('onSend', async (req, reply) => {
    if (closing || !req.raw.complete) reply.header('connection', 'close')
  })
}, { name: 'connections' })
