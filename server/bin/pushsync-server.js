#!/usr/bin/env node
// The server runs from its TypeScript sources; tsx compiles them on load, using the server's
// tsconfig so `pushsync/core` resolves to the library's source in this repository.
import { fileURLToPath } from 'node:url'
import { register } from 'tsx/esm/api'

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) })
await import('../src/cli.ts')
