/**
 * The packaging test: what a user's install sees. Packs both packages from the built repository,
 * installs the tarballs into fresh projects outside it (server/docker/install.sh, as the container
 * image does), then runs the installed code with plain Node against the installed server:
 *
 * - `npx pushsync-server` starts and prints its ready line; its health check passes;
 * - the AWS SDK v3 gets guest credentials from it and round-trips a record;
 * - an app embedding `createSyncServer`, the README's example and the SDK apps type-check under
 *   `moduleResolution` node16 and bundler, and run;
 * - the Cognito transport type-checks and round-trips with the lowest and the newest
 *   `@aws-sdk/client-cognito-sync` the peer range names;
 * - `pushsync/testing` (the conformance suites, `checkConflictResolver`) type-checks and passes
 *   under vitest and fast-check releases of each major the peer ranges allow.
 *
 * `npm run test:package`, after `npm run build` (CI runs it after the build). It prints the time of
 * each step. PUSHSYNC_KEEP_PACKAGE_TEST=1 keeps the temporary folder for a look afterwards.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { programOf } from '../../docs/markdown.js'
import { run } from './exec.js'
import {
  copyApp,
  createProject,
  installedVersion,
  npmInstall,
  type Project,
  runBuiltApp,
  typecheck,
  writeApp,
  writeTsconfigs,
} from './project.js'
import { type RunningServer, startServer } from './server.js'

const ROOT = fileURLToPath(new URL('../../..', import.meta.url))

/** What the projects install besides the tarballs; each line is a claim the docs make. */
const VERSIONS = {
  typescript: 'typescript@5.9.3',
  nodeTypes: '@types/node@20',
  // The Node guide: better-sqlite3 for the SQLite storage (12: 13 needs Node 22), its types for TS.
  sqlite: ['better-sqlite3@12', '@types/better-sqlite3@7'],
  idb: 'idb@8',
  // The peer range of @aws-sdk/client-cognito-sync is ^3.523.0: its lowest and its newest release.
  sdkLowest: '3.523.0',
  sdkNewest: '3.1124.0',
  // The peer ranges of vitest and fast-check (^3.0.0 || ^4.0.0, ^3.22.0 || ^4.0.0): the lowest
  // release of each major they allow, except vitest 4.0.0, which installs today beside a vite 7
  // that its runner cannot talk to (even an empty test fails with "Unknown method: getBuiltins"):
  // the newest 4.x stands for that line.
  testRunners: {
    'vitest 3 + fast-check 3': ['vitest@3.0.0', 'fast-check@3.22.0'],
    'vitest 4 + fast-check 4': ['vitest@4', 'fast-check@4.0.0'],
  },
} as const

const MINUTE = 60_000
const INSTALL_TIMEOUT = 10 * MINUTE // better-sqlite3 compiles from source (about 70 s on 2 cores)

const timings: Array<[step: string, ms: number]> = []
const facts: string[] = []
const cleanups: Array<() => Promise<void> | void> = []

async function step<T>(name: string, action: () => Promise<T>): Promise<T> {
  console.log(`\n▶ ${name}`)
  const started = performance.now()
  try {
    const result = await action()
    const ms = performance.now() - started
    timings.push([name, ms])
    console.log(`✔ ${name} (${seconds(ms)})`)
    return result
  } catch (error) {
    console.error(`✘ ${name} (${seconds(performance.now() - started)})`)
    throw error
  }
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message)
}

function lastJsonLine(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').at(-1) ?? ''
  try {
    return JSON.parse(line) as Record<string, unknown>
  } catch {
    throw new Error(`expected a JSON line, got:\n${stdout}`)
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

interface Tarballs {
  readonly library: string
  readonly server: string
}

async function pack(work: string): Promise<Tarballs> {
  const destination = join(work, 'packs')
  mkdirSync(destination)
  const packed = async (args: readonly string[]) => {
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', destination, ...args], {
      cwd: ROOT,
      timeoutMs: 2 * MINUTE,
    })
    const [info] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>
    check(info !== undefined, `npm pack ${args.join(' ')} printed no package`)
    return { file: join(destination, info.filename), paths: info.files.map((f) => f.path) }
  }
  const library = await packed([])
  const server = await packed(['-w', '@pushsync/server'])

  // What ships: built JavaScript, types, the licence; no sources, tests or configuration.
  for (const [name, tarball, required] of [
    ['pushsync', library, ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts']],
    ['@pushsync/server', server, ['LICENSE', 'README.md', 'package.json', 'dist/cli.js', 'dist/index.d.ts']],
  ] as const) {
    for (const path of required) check(tarball.paths.includes(path), `${name}'s tarball lacks ${path}`)
    const stray = tarball.paths.filter((path) => !/^(dist\/|LICENSE$|README\.md$|package\.json$)/.test(path))
    check(stray.length === 0, `${name}'s tarball ships ${stray.join(', ')}`)
    facts.push(`${name}: ${tarball.paths.length} files`)
  }

  // The server's manifest as published: its dependency on pushsync is a version range.
  const { stdout } = await run('tar', ['-xzOf', server.file, 'package/package.json'], {
    cwd: work,
    timeoutMs: MINUTE,
  })
  const manifest = JSON.parse(stdout) as {
    private?: boolean
    bin?: Record<string, string>
    dependencies?: Record<string, string>
  }
  const libraryVersion = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string })
    .version
  const range = manifest.dependencies?.pushsync ?? '(none)'
  check(manifest.private !== true, '@pushsync/server is marked private')
  check(
    new RegExp(`^\\^?${libraryVersion.replace(/\./g, '\\.')}$`).test(range),
    `@pushsync/server depends on pushsync ${range}, not on version ${libraryVersion}`,
  )
  check(manifest.bin?.['pushsync-server'] === './dist/cli.js', 'bin pushsync-server is not ./dist/cli.js')
  check(
    !Object.keys(manifest.dependencies ?? {}).includes('tsx'),
    '@pushsync/server depends on tsx at run time',
  )
  facts.push(`@pushsync/server depends on pushsync ${range}`)
  return { library: library.file, server: server.file }
}

/** The server app exactly as the container image installs it, plus what a user's app adds. */
async function installApp(work: string, tarballs: Tarballs): Promise<Project> {
  const app = createProject(work, 'app')
  await step('app: server/docker/install.sh with both tarballs (the image’s install)', () =>
    run('sh', [join(ROOT, 'server/docker/install.sh'), app.dir, tarballs.library, tarballs.server], {
      cwd: work,
      timeoutMs: INSTALL_TIMEOUT,
    }),
  )
  await step('app: npm install a client app’s packages (TypeScript, SQLite, idb, AWS SDK newest)', () =>
    npmInstall(
      app,
      [
        VERSIONS.typescript,
        VERSIONS.nodeTypes,
        ...VERSIONS.sqlite,
        VERSIONS.idb,
        `@aws-sdk/client-cognito-identity@${VERSIONS.sdkNewest}`,
        `@aws-sdk/client-cognito-sync@${VERSIONS.sdkNewest}`,
      ],
      INSTALL_TIMEOUT,
    ),
  )
  return app
}

async function installSdkLowest(work: string, tarballs: Tarballs): Promise<Project> {
  const project = createProject(work, 'sdk-lowest')
  await step(`sdk-lowest: npm install pushsync with @aws-sdk/*@${VERSIONS.sdkLowest}`, () =>
    npmInstall(
      project,
      [
        tarballs.library,
        VERSIONS.typescript,
        VERSIONS.nodeTypes,
        `@aws-sdk/client-cognito-identity@${VERSIONS.sdkLowest}`,
        `@aws-sdk/client-cognito-sync@${VERSIONS.sdkLowest}`,
      ],
      INSTALL_TIMEOUT,
    ),
  )
  return project
}

async function installTestRunners(work: string, tarballs: Tarballs, label: string, specs: readonly string[]) {
  const project = createProject(work, label.replace(/\W+/g, '-'))
  await step(`${label}: npm install pushsync ${specs.join(' ')}`, () =>
    npmInstall(
      project,
      [tarballs.library, ...specs, VERSIONS.typescript, VERSIONS.nodeTypes],
      INSTALL_TIMEOUT,
    ),
  )
  return project
}

async function typecheckBoth(
  project: Project,
  files: readonly string[],
  lib?: readonly string[],
): Promise<void> {
  const configs = writeTsconfigs(project, files, lib)
  await step(`${project.name}: tsc, moduleResolution node16 (${files.join(', ')})`, () =>
    typecheck(project, configs.node16, 2 * MINUTE),
  )
  await step(`${project.name}: tsc, moduleResolution bundler`, () =>
    typecheck(project, configs.bundler, 2 * MINUTE),
  )
}

/** The SDK apps against the running server: pure SDK, then pushsync's Cognito transport. */
async function runSdkApps(project: Project, server: RunningServer, sdkVersion: string): Promise<void> {
  const env = { PUSHSYNC_ENDPOINT: server.url }
  const sdk = lastJsonLine(
    (
      await step(
        `${project.name}: AWS SDK ${sdkVersion}: GetId, GetCredentialsForIdentity, UpdateRecords, ListRecords`,
        () => runBuiltApp(project, 'aws-sdk.ts', env, MINUTE),
      )
    ).stdout,
  )
  check(
    typeof sdk.identityId === 'string' && sdk.identityId.startsWith('us-east-1:'),
    `no identity id: ${JSON.stringify(sdk)}`,
  )
  check(
    sdk.value === 'dark' && sdk.recordSyncCount === 1,
    `the record did not round-trip: ${JSON.stringify(sdk)}`,
  )

  const transport = lastJsonLine(
    (
      await step(`${project.name}: pushsync/transport/cognito on client-cognito-sync ${sdkVersion}`, () =>
        runBuiltApp(project, 'cognito-transport.ts', env, MINUTE),
      )
    ).stdout,
  )
  check(
    transport.pushed === 2 && transport.lastSyncCount === 1 && transport.updatedRecords === 2,
    `the Cognito transport did not synchronize: ${JSON.stringify(transport)}`,
  )
  check(
    JSON.stringify(transport.seen, ['language', 'theme']) === '{"language":"en","theme":"dark"}' &&
      Object.keys(transport.seen as object).length === 2,
    `the second device read ${JSON.stringify(transport.seen)}`,
  )
  const installed = installedVersion(project, '@aws-sdk/client-cognito-sync')
  check(installed === sdkVersion, `expected @aws-sdk/client-cognito-sync ${sdkVersion}, found ${installed}`)
  facts.push(`@aws-sdk/client-cognito-sync ${installed}: type-checks, round-trips (SDK alone and transport)`)
}

async function runConformance(project: Project, label: string): Promise<void> {
  await typecheckBoth(
    project,
    [copyApp(project, 'conformance.suite.ts', 'conformance.test.ts')],
    ['ES2022', 'DOM'],
  )
  const { stdout } = await step(
    `${label}: vitest run (pushsync/testing: conformance suites, checkConflictResolver)`,
    () =>
      run(join(project.dir, 'node_modules/.bin/vitest'), ['run', '--reporter=dot', 'conformance.test.ts'], {
        cwd: project.dir,
        env: { NO_COLOR: '1' },
        timeoutMs: 5 * MINUTE,
      }),
  )
  const passed = /Tests\s+(\d+) passed/.exec(stdout)
  check(passed?.[1] !== undefined && Number(passed[1]) > 50, `vitest reported no passing suite:\n${stdout}`)
  facts.push(
    `${label} (vitest ${installedVersion(project, 'vitest')}, fast-check ${installedVersion(project, 'fast-check')}): ${passed[1]} tests of pushsync/testing passed`,
  )
}

async function main(): Promise<void> {
  for (const built of ['dist/index.js', 'server/dist/cli.js', 'server/dist/index.d.ts'])
    check(existsSync(join(ROOT, built)), `${built} is missing: run \`npm run build\` first`)

  const work = mkdtempSync(join(tmpdir(), 'pushsync-package-'))
  cleanups.push(() => {
    if (process.env.PUSHSYNC_KEEP_PACKAGE_TEST === '1') console.log(`kept ${work}`)
    else rmSync(work, { recursive: true, force: true })
  })
  console.log(`packaging test in ${work}`)

  const tarballs = await step('npm pack both packages', () => pack(work))

  // The projects are independent: install them side by side (mostly waiting on the registry).
  const [app, sdkLowest, ...runners] = await Promise.all([
    installApp(work, tarballs),
    installSdkLowest(work, tarballs),
    ...Object.entries(VERSIONS.testRunners).map(([label, specs]) =>
      installTestRunners(work, tarballs, label, specs),
    ),
  ])

  const help = await step('app: npx pushsync-server --help', () =>
    run('npx', ['pushsync-server', '--help'], { cwd: app.dir, timeoutMs: MINUTE }),
  )
  check(help.stdout.startsWith('Usage: pushsync-server'), `--help printed:\n${help.stdout}`)

  const server = await step('app: npx pushsync-server --port 0 --db :memory: --allow-unauthenticated', () =>
    startServer(app.dir, ['--port', '0', '--db', ':memory:', '--allow-unauthenticated'], MINUTE),
  )
  cleanups.unshift(() => server.stop())
  facts.push(`npx pushsync-server → "listening on ${server.url}" in ${seconds(server.msToReady)}`)

  await step('app: server/docker/healthcheck.mjs (the image’s HEALTHCHECK)', () =>
    run(process.execPath, [join(ROOT, 'server/docker/healthcheck.mjs')], {
      cwd: app.dir,
      env: { PUSHSYNC_PORT: String(server.port) },
      timeoutMs: MINUTE,
    }),
  )

  // The apps: embedding the server, the README's example, the AWS SDK alone and through pushsync.
  const readme = writeApp(
    app,
    'readme.ts',
    programOf(readFileSync(join(ROOT, 'README.md'), 'utf8'), 'Using it'),
  )
  const appFiles = [copyApp(app, 'embed-server.ts'), readme, copyApp(app, 'identity.ts')]
  appFiles.push(copyApp(app, 'aws-sdk.ts'), copyApp(app, 'cognito-transport.ts'))
  await typecheckBoth(app, appFiles)

  const embedded = lastJsonLine(
    (
      await step('app: node build/embed-server.js (createSyncServer on SQLite)', () =>
        runBuiltApp(app, 'embed-server.ts', {}, MINUTE),
      )
    ).stdout,
  )
  check(
    embedded.status === 200 && typeof embedded.identityId === 'string',
    `the embedded server did not answer GetId: ${JSON.stringify(embedded)}`,
  )

  const readmeRun = await step(
    'app: node build/readme.js (the README example, against npx pushsync-server)',
    () => runBuiltApp(app, readme, { PUSHSYNC_ENDPOINT: server.url }, MINUTE),
  )
  // It reads the theme after its own synchronize, then after the push brought the phone's change.
  check(
    readmeRun.stdout === 'dark\nlight\n',
    `the README example printed ${JSON.stringify(readmeRun.stdout)}, not "dark" then "light"`,
  )

  await runSdkApps(app, server, VERSIONS.sdkNewest)

  for (const name of ['identity.ts', 'aws-sdk.ts', 'cognito-transport.ts']) copyApp(sdkLowest, name)
  await typecheckBoth(sdkLowest, ['identity.ts', 'aws-sdk.ts', 'cognito-transport.ts'])
  await runSdkApps(sdkLowest, server, VERSIONS.sdkLowest)

  const labels = Object.keys(VERSIONS.testRunners)
  for (const [index, project] of runners.entries()) await runConformance(project, labels[index] as string)

  facts.push(
    `installed: pushsync ${installedVersion(app, 'pushsync')}, @pushsync/server ${installedVersion(app, '@pushsync/server')}, ` +
      `better-sqlite3 ${installedVersion(app, 'better-sqlite3')}, typescript ${installedVersion(app, 'typescript')}, node ${process.version}`,
  )
}

async function cleanUp(): Promise<void> {
  for (const cleanup of cleanups.splice(0)) {
    try {
      await cleanup()
    } catch (error) {
      console.error('cleanup failed:', error)
    }
  }
}

// A Ctrl-C or a CI cancellation still stops the server and removes the folder.
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    void cleanUp().then(() => process.exit(130))
  })

const started = performance.now()
try {
  await main()
  console.log('\nPackaging test passed.\n')
} catch (error) {
  console.error(`\nPackaging test failed: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
} finally {
  await cleanUp()
  console.log('Facts:')
  for (const fact of facts) console.log(`  ${fact}`)
  console.log('Timings:')
  for (const [name, ms] of timings) console.log(`  ${seconds(ms).padStart(7)}  ${name}`)
  console.log(`  ${seconds(performance.now() - started).padStart(7)}  total`)
}
