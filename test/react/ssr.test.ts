/**
 * Server rendering of the React bindings, in Node without `window` or `document`: the docs' settings
 * app renders its loading state with no manager, a manager on the server is never touched, and the
 * hooks outside a provider say what is wrong. The types the hooks infer from a schema are checked
 * by `npm run typecheck` at the bottom.
 */
import { createElement } from 'react'
import { renderToString } from 'react-dom/server'
import { describe, expect, expectTypeOf, it, vi } from 'vitest'
import { z } from 'zod'
import { createMemoryStorage } from '../../adapters/storage/memory/index.js'
import { renderSettingsPage } from '../../docs/snippets/react-ssr.js'
import { createSyncManager, type Dataset, type SyncManager, type TypedDataset } from '../../src/index.js'
import { SyncProvider, useDataset, useRecord, useSyncManager, useSyncStatus } from '../../src/react/index.js'
import { POOL } from '../engine/harness.js'

describe('server rendering', () => {
  it('runs where there is no window', () => {
    expect(typeof window).toBe('undefined')
    expect(typeof document).toBe('undefined')
  })

  it('renders the docs’ settings app in its loading state without a manager', () => {
    const html = renderSettingsPage()
    expect(html).toContain('<h1>Settings</h1>')
    expect(html).toContain('<p role="status">…</p>')
    expect(html).toContain('Loading notifications…')
    // useRecord's value is undefined while loading: the components show their defaults.
    expect(html).toMatch(/<button type="button" aria-pressed="true">light<\/button>/)
    expect(html).not.toContain('role="alert"')
  })

  it('never opens a dataset or subscribes on the server, even with a manager', async () => {
    const manager = createSyncManager({ identityPoolId: POOL, storage: createMemoryStorage() })
    const open = vi.spyOn(manager, 'openOrCreateDataset')
    const on = vi.spyOn(manager, 'on')
    let seen: { manager: SyncManager | null; status: string; value: unknown; pending: number } | undefined
    function Probe() {
      const settings = useDataset('settings')
      const [theme] = useRecord('settings', 'theme')
      const status = useSyncStatus('settings')
      seen = {
        manager: useSyncManager(),
        status: settings.status,
        value: theme,
        pending: status.pendingChanges,
      }
      return createElement('p', null, status.loading ? 'loading' : 'ready')
    }
    const html = renderToString(createElement(SyncProvider, { manager }, createElement(Probe)))
    expect(html).toBe('<p>loading</p>')
    expect(seen).toEqual({ manager, status: 'loading', value: undefined, pending: 0 })
    expect(open).not.toHaveBeenCalled()
    expect(on).not.toHaveBeenCalled()
    await manager.close()
  })

  it('says a hook needs a provider', () => {
    function Orphan() {
      useDataset('settings')
      return null
    }
    expect(() => renderToString(createElement(Orphan))).toThrow(
      /useDataset must be called inside <SyncProvider/,
    )
  })
})

// Checked by `npm run typecheck`, never run: the hooks' types follow the schema.
export function hookTypes(): void {
  const Enabled = z.boolean()
  const texts = useDataset('settings')
  expectTypeOf(texts.values).toEqualTypeOf<Readonly<Record<string, string>> | undefined>()
  expectTypeOf(texts.dataset).toEqualTypeOf<Dataset | undefined>()
  const typed = useDataset('notifications', { schema: Enabled })
  if (typed.status === 'ready') {
    expectTypeOf(typed.values).toEqualTypeOf<Readonly<Record<string, boolean>>>()
    expectTypeOf(typed.dataset).toEqualTypeOf<TypedDataset<boolean, boolean>>()
  }
  if (typed.status === 'error') expectTypeOf(typed.error.code).toBeString()
  const [theme, setTheme] = useRecord('settings', 'theme')
  expectTypeOf(theme).toEqualTypeOf<string | undefined>()
  expectTypeOf(setTheme).parameter(0).toEqualTypeOf<string | undefined>()
  const [size, setSize] = useRecord('prefs', 'fontSize', { schema: z.number() })
  expectTypeOf(size).toEqualTypeOf<number | undefined>()
  expectTypeOf(setSize).parameter(0).toEqualTypeOf<number | undefined>()
}
