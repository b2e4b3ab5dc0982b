import { runGroup } from './index.js'

await runGroup('domain-and-cli')
