import { runGroup } from './index.js'

await runGroup('bulk-and-history')
