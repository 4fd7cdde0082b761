/**
 * Fresh npm projects for the packaging test: outside the repository, installed from the packed
 * tarballs and the public registry only, with TypeScript settings a user's app would have.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type RunResult, run } from './exec.js'

export interface Project {
  readonly name: string
  readonly dir: string
}

const APPS = fileURLToPath(new URL('./apps/', import.meta.url))

/** An empty `"type": "module"` app, as `npm init` and a package.json edit would make it. */
export function createProject(work: string, name: string): Project {
  const dir = join(work, name)
  mkdirSync(dir, { recursive: true })
  writeJson(join(dir, 'package.json'), {
    name: `pushsync-package-test-${name}`,
    private: true,
    type: 'module',
    // better-sqlite3 compiles its native module in an install script.
    allowScripts: { 'better-sqlite3': true },
  })
  return { name, dir }
}

export function npmInstall(
  project: Project,
  specs: readonly string[],
  timeoutMs: number,
): Promise<RunResult> {
  return run('npm', ['install', '--no-audit', '--no-fund', ...specs], { cwd: project.dir, timeoutMs })
}

/** Copies apps/NAME into the project (as `as`, if given); returns the name it has there. */
export function copyApp(project: Project, name: string, as = name): string {
  copyFileSync(join(APPS, name), join(project.dir, as))
  return as
}

export function writeApp(project: Project, name: string, source: string): string {
  writeFileSync(join(project.dir, name), source)
  return name
}

/**
 * Two compiler settings apps use: Node's own resolution (`node16`, which reads `exports` and wants
 * `.js` extensions; it also emits the JavaScript that plain `node` then runs) and a bundler's
 * (`bundler`, as Vite and esbuild projects have). `skipLibCheck` is off: every `.d.ts` the packages
 * ship must resolve its imports in the user's project, or the check fails. `lib` is ES2022 alone for
 * Node apps; a test project adds DOM, which vite's own types (under vitest's) need.
 */
export function writeTsconfigs(
  project: Project,
  files: readonly string[],
  lib: readonly string[] = ['ES2022'],
): { node16: string; bundler: string } {
  const common = {
    target: 'ES2022',
    lib,
    types: ['node'],
    strict: true,
    skipLibCheck: false,
    forceConsistentCasingInFileNames: true,
  }
  writeJson(join(project.dir, 'tsconfig.node16.json'), {
    compilerOptions: { ...common, module: 'node16', moduleResolution: 'node16', outDir: 'build' },
    files,
  })
  writeJson(join(project.dir, 'tsconfig.bundler.json'), {
    compilerOptions: { ...common, module: 'esnext', moduleResolution: 'bundler', noEmit: true },
    files,
  })
  return { node16: 'tsconfig.node16.json', bundler: 'tsconfig.bundler.json' }
}

/** `tsc -p CONFIG` with the project's own TypeScript. */
export function typecheck(project: Project, config: string, timeoutMs: number): Promise<RunResult> {
  return run(join(project.dir, 'node_modules/.bin/tsc'), ['-p', config], { cwd: project.dir, timeoutMs })
}

/** Runs `build/NAME.js` (what `tsc` emitted for NAME.ts) with plain `node`. */
export function runBuiltApp(
  project: Project,
  name: string,
  env: Readonly<Record<string, string>>,
  timeoutMs: number,
): Promise<RunResult> {
  const file = join('build', `${basename(name, '.ts')}.js`)
  return run(process.execPath, [file], { cwd: project.dir, env, timeoutMs })
}

/** The version npm installed of a package, read from its package.json in the project. */
export function installedVersion(project: Project, name: string): string {
  const manifest = JSON.parse(readFileSync(join(project.dir, 'node_modules', name, 'package.json'), 'utf8'))
  return (manifest as { version: string }).version
}

function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`)
}
