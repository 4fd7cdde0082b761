import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { USAGE } from '../../src/cli-args.js'
import { settings } from '../../src/config/schema.js'
import { referenceTable } from '../../src/config/usage.js'

/**
 * The documentation's table of settings is generated from the schema the command checks its
 * settings with; this keeps the page in step. After changing a setting, rewrite the page's table
 * with `PUSHSYNC_WRITE_REFERENCE=1 npx vitest run server/test/config/reference.test.ts`.
 */

const PAGE = fileURLToPath(new URL('../../../docs/server/cli.md', import.meta.url))
const START = '<!-- settings:start (generated from server/src/config/schema.ts) -->'
const END = '<!-- settings:end -->'

describe('the settings reference', () => {
  it('in docs/server/cli.md is the table the schema makes', () => {
    const page = readFileSync(PAGE, 'utf8')
    const start = page.indexOf(START)
    const end = page.indexOf(END)
    expect(start, `${PAGE} has no ${START}`).toBeGreaterThan(0)
    expect(end).toBeGreaterThan(start)
    const current = page.slice(start + START.length, end).trim()
    const generated = referenceTable()
    if (process.env.PUSHSYNC_WRITE_REFERENCE === '1' && current !== generated)
      writeFileSync(PAGE, `${page.slice(0, start + START.length)}\n\n${generated}\n\n${page.slice(end)}`)
    else expect(current).toBe(generated)
  })

  it('and the --help text name every setting, its flag and its variable', () => {
    const page = readFileSync(PAGE, 'utf8')
    for (const setting of settings()) {
      for (const name of [`--${setting.flag}`, setting.env]) {
        expect(USAGE).toContain(name)
        expect(page).toContain(name)
      }
      expect(page).toContain(`\`${setting.path.join('.')}\``)
    }
  })
})
