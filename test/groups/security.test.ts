import { runGroup } from './index.js'

await runGroup('security')
