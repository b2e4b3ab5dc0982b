import { dropTemplate } from './database.js'

await dropTemplate()
