#!/usr/bin/env node
// `pushsync-server` from the TypeScript sources, for work inside this repository (the tests, the
// benchmarks and `npm start -w @pushsync/server` run it, so a change needs no build). tsx compiles
// the sources on load with the server's tsconfig, whose paths resolve `pushsync/core` to the
// library's sources. It is not published: the package's command is the built dist/cli.js (see
// package.json `bin`), which plain Node runs.
import { fileURLToPath } from 'node:url'
import { register } from 'tsx/esm/api'

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) })
await import('../src/cli.ts')
