/**
 * The React guide's settings app as a device runs it: `mountSettings` of docs/snippets/react-main.tsx
 * (sign-in with pushsync/session, IndexedDB, the HTTP transport, SSE, the browser's connectivity,
 * write-through, StrictMode) against the page's own origin. The test signs the device in as an
 * identity of its choosing by putting its id where `localStorageIdentityStore` keeps it.
 */
import { mountSettings } from '../../../docs/snippets/react-main.js'

const root = document.createElement('div')
document.body.append(root)
await mountSettings(root, location.origin)
document.title = 'ready'
