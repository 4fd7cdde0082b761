/**
 * The React bindings inside real Chromium with React 19 and real IndexedDB: what a component sees
 * and how often it renders. A component renders once per committed change of what it shows, a
 * parent's re-render subscribes nothing again, StrictMode's double effects keep one watch, a
 * controlled input keeps up with typing, and leaving lets the values go.
 */
import { createElement as h, type ReactNode, StrictMode, useState } from 'react'
import { flushSync } from 'react-dom'
import { createRoot, type Root } from 'react-dom/client'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { userEvent } from 'vitest/browser'
import { z } from 'zod'
import { createIndexedDbStorage } from '../../adapters/storage/indexeddb/index.js'
import type { ConnectivitySource, Dataset, SyncManager } from '../../src/index.js'
import { createSyncManager } from '../../src/index.js'
import { SyncProvider, useDataset, useRecord, useSyncManager, useSyncStatus } from '../../src/react/index.js'

const POOL = 'us-east-1:0c8c5c4e-5f5e-4d4a-9a51-7a4a0a7c1f00'
const IDENTITY = 'us-east-1:00000000-0000-4000-8000-000000000001'

let databases = 0
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A device with its own IndexedDB database and no server: the bindings work on local data alone. */
function device(): SyncManager {
  const manager = createSyncManager({
    identityPoolId: POOL,
    identityId: IDENTITY,
    storage: createIndexedDbStorage({ name: `pushsync-react-${Date.now()}-${++databases}` }),
  })
  cleanups.push(() => manager.close())
  return manager
}

/** Renders `node` under a provider of `manager` into a fresh container. */
function mount(manager: SyncManager | null, node: ReactNode, connectivity?: ConnectivitySource) {
  const container = document.createElement('div')
  document.body.append(container)
  const root: Root = createRoot(container)
  const render = (next: ReactNode) =>
    flushSync(() => root.render(h(SyncProvider, { manager, connectivity }, next)))
  render(node)
  cleanups.push(() => {
    root.unmount()
    container.remove()
  })
  return { container, render, text: () => container.textContent ?? '' }
}

/** Counts renders per label. */
const renders = new Map<string, number>()
const rendered = (label: string) => renders.set(label, (renders.get(label) ?? 0) + 1)
afterEach(() => renders.clear())

function Settings({ label = 'settings' }: { label?: string }) {
  rendered(label)
  const settings = useDataset('settings')
  if (settings.loading) return h('p', null, 'loading')
  if (settings.status === 'error') return h('p', null, settings.error.code)
  return h('p', null, JSON.stringify(settings.values))
}

function Theme() {
  rendered('theme')
  const [theme = 'light'] = useRecord('settings', 'theme')
  return h('span', null, theme)
}

/** What the components below hand to the tests: the setters they got, the manager they saw. */
const probe: {
  setTheme?: (value: string | undefined) => Promise<void>
  setSize?: (value: number | undefined) => Promise<void>
  manager?: SyncManager | null
} = {}
afterEach(() => {
  delete probe.setTheme
  delete probe.setSize
  delete probe.manager
})

/** A parent that re-renders on each click, above two components showing one dataset. */
function Parent() {
  const [count, setCount] = useState(0)
  return h(
    'div',
    null,
    h('button', { type: 'button', onClick: () => setCount(count + 1) }, `clicked ${count}`),
    h(Settings, { label: 'one' }),
    h(Settings, { label: 'two' }),
  )
}

const Size = z.number().int().min(8)

function Sizes() {
  const sizes = useDataset('sizes', { schema: Size })
  return h('p', null, sizes.status === 'ready' ? Object.entries(sizes.values).join(';') : sizes.status)
}

function ThemeSetter() {
  const [theme = 'light', set] = useRecord('settings', 'theme')
  probe.setTheme = set
  rendered('setter')
  return h('b', null, theme)
}

function Nickname() {
  const [nickname = '', setNickname] = useRecord('profile', 'nickname')
  return h('input', {
    'aria-label': 'Nickname',
    value: nickname,
    onChange: (event: { target: HTMLInputElement }) => void setNickname(event.target.value),
  })
}

function FontSize() {
  const [size = 14, set] = useRecord('prefs', 'fontSize', { schema: Size })
  probe.setSize = set
  return h('span', null, String(size))
}

function Badge() {
  const status = useSyncStatus('settings')
  probe.manager = useSyncManager()
  return h('p', null, `${status.loading ? 'loading' : status.pendingChanges} ${status.online}`)
}

function NoManager() {
  const settings = useDataset('settings')
  const [, set] = useRecord('settings', 'theme')
  probe.setTheme = set
  return h('p', null, `${settings.status} ${useSyncStatus('settings').loading}`)
}

describe('useDataset in Chromium', () => {
  it('shows loading, then the values, and renders once per committed change', async () => {
    const manager = device()
    const ds = await manager.openOrCreateDataset('settings')
    await ds.put('theme', 'dark')
    const view = mount(manager, h(Settings))
    expect(view.text()).toBe('loading')
    await expect.poll(view.text).toBe('{"theme":"dark"}')
    const before = renders.get('settings') ?? 0

    await ds.put('language', 'fr')
    await expect.poll(view.text).toBe('{"theme":"dark","language":"fr"}')
    expect(renders.get('settings')).toBe(before + 1)
    await ds.putAll({ a: '1', b: '2' })
    await expect.poll(view.text).toBe('{"theme":"dark","language":"fr","a":"1","b":"2"}')
    expect(renders.get('settings')).toBe(before + 2)
  })

  it('opens and watches once per manager and name: many components, parent re-renders, StrictMode', async () => {
    const manager = device()
    const handle: Dataset = await manager.openOrCreateDataset('settings')
    // Counts the opens, and the watches of the handles they return.
    const original = manager.openOrCreateDataset.bind(manager) as (name: string) => Promise<Dataset>
    let watches = 0
    const open = vi.spyOn(manager, 'openOrCreateDataset').mockImplementation((async (name: string) => {
      const opened = await original(name)
      const watch = opened.watch as (...args: unknown[]) => () => void
      return {
        ...opened,
        watch: (...args: unknown[]) => {
          watches++
          return watch(...args)
        },
      }
    }) as SyncManager['openOrCreateDataset'])

    const view = mount(manager, h(StrictMode, null, h(Parent)))
    await expect.poll(view.text).toContain('{}')
    for (let i = 1; i <= 5; i++) {
      await userEvent.click(view.container.querySelector('button') as HTMLButtonElement)
      await expect.poll(view.text).toContain(`clicked ${i}`)
    }
    await handle.put('theme', 'dark')
    await expect.poll(view.text).toContain('{"theme":"dark"}{"theme":"dark"}')
    expect(open).toHaveBeenCalledTimes(1)
    expect(watches).toBe(1)
  })

  it('lets the values go when the last component leaves', async () => {
    const manager = device()
    const handle = await manager.openOrCreateDataset('settings')
    await handle.put('theme', 'dark')
    const view = mount(manager, h(Settings))
    await expect.poll(view.text).toBe('{"theme":"dark"}')
    expect(handle.getSnapshot()).toEqual({ theme: 'dark' })
    view.render(h('p', null, 'elsewhere'))
    await expect.poll(() => handle.getSnapshot()).toBeUndefined()
  })

  it('types the values by the schema and shows a value it refuses as left out', async () => {
    const manager = device()
    const text = await manager.openOrCreateDataset('sizes')
    await text.putAll({ body: '14', title: '"huge"' })
    const view = mount(manager, h(Sizes))
    await expect.poll(view.text).toBe('body,14')
  })
})

describe('useRecord in Chromium', () => {
  it('renders only when its record changes, and its setter writes to IndexedDB', async () => {
    const manager = device()
    const ds = await manager.openOrCreateDataset('settings')
    await ds.put('theme', 'sepia')
    const view = mount(manager, h('div', null, h(Theme), h(ThemeSetter)))
    // Shown once read (before, the default shows).
    await expect.poll(view.text).toBe('sepiasepia')
    const themeRenders = renders.get('theme') ?? 0

    await ds.put('language', 'fr')
    await expect.poll(() => ds.getSnapshot()?.language).toBe('fr')
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(renders.get('theme')).toBe(themeRenders)

    await probe.setTheme?.('dark')
    await expect.poll(view.text).toBe('darkdark')
    expect(await ds.get('theme')).toBe('dark')
    expect(renders.get('theme')).toBe(themeRenders + 1)
    await probe.setTheme?.(undefined)
    await expect.poll(view.text).toBe('lightlight')
    expect(await ds.get('theme')).toBeUndefined()
  })

  it('keeps a controlled text field in step with fast typing', async () => {
    const manager = device()
    const view = mount(manager, h(Nickname))
    const input = view.container.querySelector('input') as HTMLInputElement
    const ds = await manager.openOrCreateDataset('profile')
    await userEvent.type(input, 'Ada Lovelace, 1815')
    expect(input.value).toBe('Ada Lovelace, 1815')
    await expect.poll(() => ds.get('nickname')).toBe('Ada Lovelace, 1815')
    expect(input.value).toBe('Ada Lovelace, 1815')
  })

  it('shows a value the schema refuses only until the write rejects', async () => {
    const manager = device()
    const view = mount(manager, h(FontSize))
    await expect.poll(view.text).toBe('14')
    await probe.setSize?.(16)
    await expect.poll(view.text).toBe('16')
    await expect(probe.setSize?.(3)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect.poll(view.text).toBe('16')
    expect(await (await manager.openOrCreateDataset('prefs')).get('fontSize')).toBe('16')
  })
})

describe('useSyncStatus and useSyncManager in Chromium', () => {
  it('shows the pending changes and what the connectivity source says', async () => {
    const manager = device()
    let online = true
    const listeners = new Set<(online: boolean) => void>()
    const connectivity: ConnectivitySource = {
      isOnline: () => online,
      subscribe(listener) {
        listeners.add(listener)
        return () => void listeners.delete(listener)
      },
    }
    const view = mount(manager, h(Badge), connectivity)
    await expect.poll(view.text).toBe('0 true')
    const ds = await manager.openOrCreateDataset('settings')
    await ds.putAll({ theme: 'dark', language: 'fr' })
    await expect.poll(view.text).toBe('2 true')
    online = false
    for (const listener of listeners) listener(false)
    await expect.poll(view.text).toBe('2 false')
    expect(probe.manager).toBe(manager)
  })

  it('renders the loading state without a manager, and a write says why it cannot happen', async () => {
    const view = mount(null, h(NoManager))
    expect(view.text()).toBe('loading true')
    await expect(probe.setTheme?.('dark')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
  })
})
