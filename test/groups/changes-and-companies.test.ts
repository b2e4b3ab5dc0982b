import { runGroup } from './index.js'

await runGroup('changes-and-companies')
