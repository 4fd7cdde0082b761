/**
 * The side-by-side page: one frame per device (`device.html?device=A`...), A and B to begin with,
 * up to four. `?devices=N` opens N of them. The frames share the origin's localStorage, hence the
 * identity; each keeps its own IndexedDB database.
 */
import { forgetIdentity, storedIdentityId } from './identity.js'

const NAMES = ['A', 'B', 'C', 'D']

const devices = document.getElementById('devices') as HTMLElement
const add = document.getElementById('add-device') as HTMLButtonElement
const remove = document.getElementById('remove-device') as HTMLButtonElement
const identity = document.getElementById('identity') as HTMLElement

const frames = () => Array.from(devices.querySelectorAll('iframe'))

function addDevice(): void {
  const taken = new Set(frames().map((frame) => frame.dataset.device))
  const name = NAMES.find((candidate) => !taken.has(candidate))
  if (name === undefined) return
  const frame = document.createElement('iframe')
  frame.src = `device.html?device=${name}`
  frame.title = `Device ${name}`
  frame.dataset.device = name
  devices.append(frame)
  update()
}

function removeDevice(): void {
  const list = frames()
  if (list.length > 1) list[list.length - 1]?.remove()
  update()
}

function update(): void {
  const count = frames().length
  add.disabled = count >= NAMES.length
  remove.disabled = count <= 1
  devices.dataset.count = String(count)
  const url = new URL(location.href)
  if (count === 2) url.searchParams.delete('devices')
  else url.searchParams.set('devices', String(count))
  history.replaceState(null, '', url)
}

function showIdentity(): void {
  const id = storedIdentityId()
  identity.textContent = id ?? 'signing in…'
  identity.title = id ?? ''
}

const wanted = Number(new URLSearchParams(location.search).get('devices') ?? '2')
if (Number.isInteger(wanted)) {
  while (frames().length < Math.min(wanted, NAMES.length)) addDevice()
  while (frames().length > Math.max(wanted, 1)) removeDevice()
}
update()
showIdentity()

add.addEventListener('click', addDevice)
remove.addEventListener('click', removeDevice)
// The frames sign in: their writes to localStorage reach this page as storage events.
window.addEventListener('storage', showIdentity)
document.getElementById('new-identity')?.addEventListener('click', () => {
  forgetIdentity()
  location.reload()
})
