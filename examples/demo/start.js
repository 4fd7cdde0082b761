#!/usr/bin/env node
// `npm start`: the server with its demo page, run from the TypeScript sources. tsx compiles them on
// load with the root tsconfig, whose paths resolve `pushsync/...` to the library's sources.
import { fileURLToPath } from 'node:url'
import { register } from 'tsx/esm/api'

register({ tsconfig: fileURLToPath(new URL('../../tsconfig.json', import.meta.url)) })
const { main } = await import('./serve.ts')
await main()
