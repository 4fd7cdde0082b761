/**
 * One device of the demo (`device.html?device=A`): a sync manager on an IndexedDB database of its
 * own, the HTTP transport and the SSE push source, keeping the `settings` dataset of the shared
 * guest identity. It shows the records, `lastSyncCount`, the pending changes, the pushes it
 * received, its syncs and its conflicts, and can be switched offline and back.
 *
 * Offline means what it means on a real device: the push stream is closed and every request of the
 * transport fails (its `fetch` refuses), so edits stay pending. The manager's connectivity source
 * reports the switch, and coming back online synchronizes the pending changes while the push
 * stream reconnects and catches up on what the others wrote meanwhile.
 */
import {
  type Conflict,
  type ConflictResolver,
  createSyncManager,
  type Dataset,
  type DatasetStatus,
  lastWriterWins,
  localWins,
  type PushSourceState,
  type Resolution,
  remoteWins,
  type StorageAdapter,
  type SyncManager,
  type SyncManagerOptions,
  type SyncRecord,
} from 'pushsync'
import { createSsePushSource } from 'pushsync/push/sse'
import { createIndexedDbStorage } from 'pushsync/storage/indexeddb'
import { createHttpTransport, type FetchLike } from 'pushsync/transport/http'
import { POOL, type Session, signIn } from './identity.js'

const DATASET = 'settings'
const LOG_ENTRIES = 50

type Policy = 'lastWriter' | 'local' | 'remote'
const POLICIES: Record<Policy, ConflictResolver> = {
  lastWriter: lastWriterWins,
  local: localWins,
  remote: remoteWins,
}

const element = <T extends HTMLElement>(id: string): T => {
  const found = document.getElementById(id)
  if (found === null) throw new Error(`device.html has no #${id}`)
  return found as T
}

const view = {
  name: element('device-name'),
  identity: element('identity'),
  online: element<HTMLButtonElement>('online'),
  lastSyncCount: element('last-sync-count'),
  pending: element('pending'),
  pushState: element('push-state'),
  syncState: element('sync-state'),
  records: element<HTMLTableSectionElement>('records'),
  form: element<HTMLFormElement>('edit'),
  key: element<HTMLInputElement>('key'),
  value: element<HTMLInputElement>('value'),
  policy: element<HTMLSelectElement>('policy'),
  pushLog: element<HTMLOListElement>('push-log'),
  conflictLog: element<HTMLOListElement>('conflict-log'),
  syncLog: element<HTMLOListElement>('sync-log'),
  error: element('error'),
}

/** The device's name from `?device=`: letters, digits, `-` and `_`. */
function deviceName(): string {
  const name = new URLSearchParams(location.search).get('device') ?? 'A'
  return /^[\w-]{1,16}$/.test(name) ? name : 'A'
}

const device = deviceName()
document.title = `Device ${device} · pushsync demo`
document.documentElement.dataset.device = device
view.name.textContent = device

main().catch((error: unknown) => {
  view.error.hidden = false
  view.error.textContent = `This device could not start: ${describe(error)}`
  document.body.dataset.state = 'failed'
})

async function main(): Promise<void> {
  const endpoint = location.origin
  const session = await signIn(endpoint)
  view.identity.textContent = session.identityId
  view.identity.title = session.identityId

  // The device's network: a switch in place of the real one.
  let online = true
  const connectivityListeners = new Set<(online: boolean) => void>()
  const connectivity: NonNullable<SyncManagerOptions['connectivity']> = {
    isOnline: () => online,
    subscribe(listener) {
      connectivityListeners.add(listener)
      return () => void connectivityListeners.delete(listener)
    },
  }
  const deviceFetch: FetchLike = (url, init) =>
    online ? fetch(url, init) : Promise.reject(new TypeError(`device ${device} is offline`))

  let policy: Policy = 'lastWriter'
  const storage = createIndexedDbStorage({ name: `pushsync-demo-${device}` })
  const manager = createSyncManager({
    identityPoolId: POOL,
    identityId: session.identityId,
    storage,
    transport: createHttpTransport({
      endpoint,
      identityPoolId: POOL,
      identityId: session.identityId,
      getToken: () => session.token(),
      fetch: deviceFetch,
    }),
    connectivity,
    // The chosen rule decides; the demo only records what it decided.
    conflictResolver: (conflict) => {
      const resolution = POLICIES[policy](conflict)
      logConflict(conflict, resolution, policy)
      return resolution
    },
    logger: console,
  })
  const dataset = await manager.openOrCreateDataset(DATASET)
  const render = renderer(manager, dataset, session, storage, () => online)

  watch(manager, dataset, render)

  let stopPush: (() => void) | undefined
  const startPush = () => {
    setPushState('connecting')
    stopPush = manager.addPushSource(
      createSsePushSource({
        endpoint,
        identityPoolId: POOL,
        identityId: session.identityId,
        getToken: () => session.token(),
      }),
    )
  }

  const setOnline = (next: boolean) => {
    if (next === online) return
    online = next
    view.online.setAttribute('aria-checked', String(online))
    view.online.textContent = online ? 'Online' : 'Offline'
    document.body.dataset.online = String(online)
    if (online) {
      startPush()
    } else {
      stopPush?.()
      stopPush = undefined
      setPushState('off')
    }
    // Coming back online, the manager synchronizes the datasets with pending changes.
    for (const listener of connectivityListeners) listener(online)
    render()
  }
  view.online.addEventListener('click', () => setOnline(!online))

  view.policy.addEventListener('change', () => {
    policy = view.policy.value as Policy
  })

  const syncNow = () => {
    // Failures are shown by the syncFailed event.
    if (online) dataset.synchronize().catch(() => {})
  }
  view.form.addEventListener('submit', (event) => {
    event.preventDefault()
    const key = view.key.value.trim()
    const value = view.value.value
    if (key === '' || value === '') return
    dataset.put(key, value).then(
      () => {
        view.value.value = ''
        view.value.focus()
        syncNow()
      },
      (error: unknown) => logSync(`✗ ${describe(error)}`, 'failed'),
    )
  })
  view.records.addEventListener('click', (event) => {
    const target = event.target as HTMLElement
    const row = target.closest<HTMLTableRowElement>('tr[data-key]')
    const key = row?.dataset.key
    if (row === null || key === undefined) return
    if (target.closest('button[data-remove]') !== null) {
      dataset.remove(key).then(syncNow, (error: unknown) => logSync(`✗ ${describe(error)}`, 'failed'))
      return
    }
    // Clicking a record puts it in the form, ready for a new value.
    view.key.value = key
    view.value.value = row.dataset.value ?? ''
    view.value.select()
  })

  startPush()
  render()
  syncNow()
  document.body.dataset.state = 'ready'
}

/** How the page names the push source's states (`off`: switched offline, the source stopped). */
const PUSH_STATES: Record<PushSourceState, 'connecting' | 'connected' | 'reconnecting'> = {
  connecting: 'connecting',
  live: 'connected',
  offline: 'reconnecting',
}

/**
 * What the device's sync line says, from the dataset's status and the network switch: a device that
 * is offline or holds changes the server has not acknowledged is not "in sync", whatever its last
 * sync did.
 */
function syncState(status: DatasetStatus, online: boolean): { text: string; state: string } {
  const pending = status.pendingChanges
  if (status.syncing) return { text: 'syncing…', state: 'syncing' }
  if (!online) return { text: pending > 0 ? `offline · ${pending} pending` : 'offline', state: 'offline' }
  if (status.lastError !== null) return { text: `failed: ${status.lastError.code}`, state: 'failed' }
  if (pending > 0) return { text: `${pending} pending`, state: 'pending' }
  return status.lastSyncedAt === 0 ? { text: '–', state: 'idle' } : { text: 'in sync', state: 'idle' }
}

function setPushState(state: 'connecting' | 'connected' | 'reconnecting' | 'off'): void {
  view.pushState.textContent = state
  view.pushState.dataset.state = state
}

/** Logs what the engine does and redraws when something changed. */
function watch(manager: SyncManager, dataset: Dataset, render: () => void): void {
  manager.on('datasetChanged', render)
  dataset.onStatus(render)
  manager.on('pushSourceStateChanged', ({ state }) => setPushState(PUSH_STATES[state]))
  manager.on('syncSucceeded', ({ result }) => {
    const parts = [`lastSyncCount ${result.lastSyncCount}`]
    if (result.path === 'pushed-changes') parts.push('applied from the push')
    if (result.pushed > 0) parts.push(`sent ${result.pushed}`)
    if (result.updatedRecords > 0) parts.push(`pulled ${result.updatedRecords}`)
    if (result.conflicts > 0) parts.push(`${result.conflicts} conflict${result.conflicts === 1 ? '' : 's'}`)
    logSync(`✓ ${parts.join(' · ')}`, 'succeeded', { syncCount: result.lastSyncCount })
    render()
  })
  manager.on('syncFailed', ({ error }) => {
    logSync(`✗ ${error.code}: ${error.message}`, 'failed')
    render()
  })
  manager.on('pushReceived', ({ update, decision }) => {
    const action = decision.action === 'coalesce' ? 'sync after the running one' : 'sync'
    log(view.pushLog, `${update.datasetName} is at syncCount ${update.syncCount} → ${action}`, {
      kind: 'received',
      syncCount: update.syncCount,
    })
  })
  manager.on('pushIgnored', ({ payload, message }) => {
    const syncCount = (payload as { syncCount?: unknown } | null)?.syncCount
    log(view.pushLog, `ignored: ${message}`, {
      kind: 'ignored',
      ...(typeof syncCount === 'number' ? { syncCount } : {}),
    })
  })
}

/** Redraws the records and counters; calls made while it draws make one more draw afterwards. */
function renderer(
  manager: SyncManager,
  dataset: Dataset,
  session: Session,
  storage: StorageAdapter,
  online: () => boolean,
): () => void {
  let queued = false
  let drawing = Promise.resolve()
  const draw = async () => {
    const [records, lastSyncCount] = await Promise.all([
      storage.read((tx) => tx.listRecords(session.identityId, DATASET)),
      dataset.getLastSyncCount(),
    ])
    const status = dataset.getStatus()
    view.lastSyncCount.textContent = String(lastSyncCount)
    view.pending.textContent = String(status.pendingChanges)
    view.pending.dataset.pending = String(status.pendingChanges)
    const sync = syncState(status, online())
    view.syncState.textContent = sync.text
    view.syncState.dataset.state = sync.state
    drawRecords(records)
  }
  return () => {
    if (queued) return
    queued = true
    drawing = drawing
      .then(() => {
        queued = false
        return manager.identityId === session.identityId ? draw() : undefined
      })
      .catch((error: unknown) => console.warn('[demo] drawing failed', error))
  }
}

function drawRecords(records: readonly SyncRecord[]): void {
  const shown = records
    // A removal the server already has leaves nothing to show; one still pending is struck through.
    .filter((record) => record.value !== null || record.dirty)
    .sort((a, b) => a.key.localeCompare(b.key))
  const rows = shown.map((record) => {
    const row = document.createElement('tr')
    row.dataset.testid = 'record'
    row.dataset.key = record.key
    row.dataset.value = record.value ?? ''
    row.dataset.pending = String(record.dirty)
    if (record.value === null) row.classList.add('removed')
    const key = cell(record.key, 'key')
    const value = cell(record.value ?? 'removed', 'value')
    value.dataset.testid = 'record-value'
    const count = cell(record.syncCount === 0 ? '–' : String(record.syncCount), 'count')
    count.title = 'the record’s syncCount on the server'
    const state = cell(record.dirty ? 'pending' : '', 'state')
    const actions = document.createElement('td')
    actions.className = 'actions'
    if (record.value !== null) {
      const remove = document.createElement('button')
      remove.type = 'button'
      remove.dataset.remove = ''
      remove.title = `remove ${record.key}`
      remove.setAttribute('aria-label', `remove ${record.key}`)
      remove.textContent = '×'
      actions.append(remove)
    }
    row.append(key, value, count, state, actions)
    return row
  })
  if (rows.length === 0) {
    const row = document.createElement('tr')
    const empty = cell('No settings yet: add one below, on any device.', 'empty')
    empty.colSpan = 5
    row.append(empty)
    rows.push(row)
  }
  view.records.replaceChildren(...rows)
}

function cell(text: string, className: string): HTMLTableCellElement {
  const td = document.createElement('td')
  td.className = className
  td.textContent = text
  return td
}

function logConflict(conflict: Conflict, resolution: Resolution, policy: Policy): void {
  const local = conflict.local.value
  const remote = conflict.remote.value
  const kept = resolution.kind === 'local' ? local : resolution.kind === 'remote' ? remote : resolution.value
  const why =
    policy === 'lastWriter'
      ? `the later edit wins: ${resolution.kind === 'local' ? 'this device’s' : 'the server’s'}`
      : policy === 'local'
        ? 'this device wins'
        : 'the server wins'
  const entry = log(view.conflictLog, '', { kind: 'conflict', key: conflict.key })
  entry.dataset.local = local ?? ''
  entry.dataset.remote = remote ?? ''
  entry.dataset.kept = kept ?? ''
  const text = entry.querySelector('.text')
  text?.append(
    strong(conflict.key),
    `: this device had ${quote(local)}, the server ${quote(remote)} → kept `,
    strong(quote(kept)),
    ` (${why})`,
  )
}

function logSync(message: string, kind: string, extra: { syncCount?: number } = {}): void {
  log(view.syncLog, message, { kind, ...extra })
}

/** Adds an entry at the top of a log, with the time; old entries fall off the end. */
function log(
  list: HTMLOListElement,
  message: string,
  data: { kind: string; syncCount?: number; key?: string },
): HTMLLIElement {
  const entry = document.createElement('li')
  entry.dataset.kind = data.kind
  if (data.syncCount !== undefined) entry.dataset.syncCount = String(data.syncCount)
  if (data.key !== undefined) entry.dataset.key = data.key
  const time = document.createElement('time')
  time.textContent = new Date().toLocaleTimeString([], { hour12: false })
  const text = document.createElement('span')
  text.className = 'text'
  text.textContent = message
  entry.append(time, text)
  list.prepend(entry)
  while (list.children.length > LOG_ENTRIES) list.lastElementChild?.remove()
  return entry
}

function strong(text: string): HTMLElement {
  const b = document.createElement('strong')
  b.textContent = text
  return b
}

function quote(value: string | null): string {
  return value === null ? '(removed)' : `“${value}”`
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
