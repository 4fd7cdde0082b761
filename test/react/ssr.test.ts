/**
 * Server rendering of the React bindings, in Node without `window` or `document`: the docs' settings
 * app renders its loading state with no manager, a manager on the server is never touched, and the
 * hooks outside a provider say what is wrong. (The types the hooks infer from a schema are checked
 * by `npm run typecheck` in hook-types.ts.)
 */
import { createElement } from 'react'
import { renderToString } from 'react-dom/server'
import { describe, expect, it, vi } from 'vitest'
import { createMemoryStorage } from '../../adapters/storage/memory/index.js'
import { renderSettingsPage } from '../../docs/snippets/react-ssr.js'
import { createSyncManager, type SyncManager } from '../../src/index.js'
import { SyncProvider, useDataset, useRecord, useSyncManager, useSyncStatus } from '../../src/react/index.js'
import { POOL } from '../engine/harness.js'

/** What the probe's hooks returned on its last render. */
let probed: { manager: SyncManager | null; status: string; value: unknown; pending: number } | undefined

function Probe() {
  const settings = useDataset('settings')
  const [theme] = useRecord('settings', 'theme')
  const status = useSyncStatus('settings')
  probed = {
    manager: useSyncManager(),
    status: settings.status,
    value: theme,
    pending: status.pendingChanges,
  }
  return createElement('p', null, status.loading ? 'loading' : 'ready')
}

function Orphan() {
  useDataset('settings')
  return null
}

describe('server rendering', () => {
  it('runs where there is no window', () => {
    expect(typeof window).toBe('undefined')
    expect(typeof document).toBe('undefined')
  })

  it('renders the docs’ settings app in its loading state without a manager', () => {
    const html = renderSettingsPage()
    expect(html).toContain('<h1>Settings</h1>')
    expect(html).toContain('<p role="status">…</p>')
    expect(html).toContain('<legend>Notifications </legend>')
    // useRecord's value is undefined while loading: the components show their defaults.
    expect(html).toMatch(/<button type="button" aria-pressed="true">light<\/button>/)
    expect(html).not.toContain('role="alert"')
  })

  it('never opens a dataset or subscribes on the server, even with a manager', async () => {
    const manager = createSyncManager({ identityPoolId: POOL, storage: createMemoryStorage() })
    const open = vi.spyOn(manager, 'openOrCreateDataset')
    const on = vi.spyOn(manager, 'on')
    const html = renderToString(createElement(SyncProvider, { manager }, createElement(Probe)))
    expect(html).toBe('<p>loading</p>')
    expect(probed).toEqual({ manager, status: 'loading', value: undefined, pending: 0 })
    expect(open).not.toHaveBeenCalled()
    expect(on).not.toHaveBeenCalled()
    await manager.close()
  })

  it('says a hook needs a provider', () => {
    expect(() => renderToString(createElement(Orphan))).toThrow(
      /useDataset must be called inside <SyncProvider/,
    )
  })
})
