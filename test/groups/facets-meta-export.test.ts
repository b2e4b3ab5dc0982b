import { runGroup } from './index.js'

await runGroup('facets-meta-export')
