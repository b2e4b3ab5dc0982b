import { runGroup } from './index.js'

await runGroup('server-and-contract')
