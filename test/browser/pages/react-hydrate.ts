/**
 * The React guide's server rendering, the browser's half: the markup the server rendered
 * (docs/snippets/react-ssr.tsx, handed over by the test as `window.serverMarkup`) is hydrated by
 * `hydrateSettings` of docs/snippets/react-hydrate.tsx.
 */
import { hydrateSettings } from '../../../docs/snippets/react-hydrate.js'

const root = document.createElement('div')
root.innerHTML = (globalThis as { serverMarkup?: string }).serverMarkup ?? ''
document.body.append(root)
await hydrateSettings(root, location.origin)
document.title = 'ready'
