import { runGroup } from './index.js'

await runGroup('webhooks-and-yale')
