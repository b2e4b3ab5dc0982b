import { runGroup } from './index.js'

await runGroup('pagination')
