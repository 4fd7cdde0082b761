import { defineConfig } from 'vitepress'
import apiSidebar from '../api/typedoc-sidebar.json' with { type: 'json' }

export default defineConfig({
  title: 'pushsync',
  description:
    'Offline-first key/value sync with Cognito Sync semantics and push sync, for every JavaScript runtime.',
  cleanUrls: true,
  lastUpdated: false,
  // Generated sources and snippets are not pages.
  srcExclude: ['snippets/**', '.typedoc/**'],
  // The API reference and the local search index make large chunks; they load on demand.
  vite: { build: { chunkSizeWarningLimit: 4000 } },
  themeConfig: {
    nav: [
      { text: 'Guide', link: '/guide/', activeMatch: '^/(guide|concepts)/' },
      { text: 'Adapters', link: '/adapters/storage-memory', activeMatch: '^/adapters/' },
      { text: 'Push', link: '/push/web-push', activeMatch: '^/push/' },
      { text: 'Server', link: '/server/', activeMatch: '^/server/' },
      { text: 'Migrating', link: '/migrating' },
      { text: 'API', link: '/api/', activeMatch: '^/api/' },
    ],
    sidebar: [
      {
        text: 'Getting started',
        items: [
          { text: 'Overview', link: '/guide/' },
          { text: 'When to use pushsync', link: '/guide/when-to-use' },
          { text: 'Browser', link: '/guide/browser' },
          { text: 'React', link: '/guide/react' },
          { text: 'Node', link: '/guide/node' },
          { text: 'React Native', link: '/guide/react-native' },
          { text: 'Property-test your merge logic', link: '/guide/property-testing' },
          { text: 'Performance', link: '/guide/performance' },
        ],
      },
      {
        text: 'Concepts',
        items: [
          { text: 'Datasets and records', link: '/concepts/datasets' },
          { text: 'Sync counts', link: '/concepts/sync-counts' },
          { text: 'Conflicts', link: '/concepts/conflicts' },
          { text: 'Push sync', link: '/concepts/push-sync' },
          { text: 'Errors', link: '/concepts/errors' },
          { text: 'The engine', link: '/concepts/engine' },
          { text: 'The core', link: '/concepts/core' },
        ],
      },
      {
        text: 'Adapters',
        items: [
          { text: 'Storage: memory', link: '/adapters/storage-memory' },
          { text: 'Storage: IndexedDB', link: '/adapters/storage-indexeddb' },
          { text: 'Storage: SQLite', link: '/adapters/storage-sqlite' },
          { text: 'Transport: Cognito (AWS SDK)', link: '/adapters/transport-cognito' },
          { text: 'Transport: HTTP', link: '/adapters/transport-http' },
          { text: 'Transport: WebSocket', link: '/adapters/transport-websocket' },
          { text: 'Push: SSE', link: '/adapters/push-sse' },
          { text: 'Push: Web Push', link: '/adapters/push-webpush' },
          { text: 'Push: FCM and APNs', link: '/adapters/push-callback' },
          { text: 'Multi-tab (Web Locks)', link: '/adapters/tabs-web-locks' },
        ],
      },
      {
        text: 'Push sync per platform',
        items: [
          { text: 'Web Push', link: '/push/web-push' },
          { text: 'FCM (Android)', link: '/push/fcm' },
          { text: 'APNs (iOS)', link: '/push/apns' },
          { text: 'Native apps', link: '/push/native' },
        ],
      },
      {
        text: 'Server',
        items: [
          { text: 'Overview', link: '/server/' },
          { text: 'Command line', link: '/server/cli' },
          { text: 'Operations', link: '/server/operations' },
          { text: 'Deployment', link: '/server/deployment' },
          { text: 'SQLite and PostgreSQL', link: '/server/storage' },
          { text: 'Scaling', link: '/server/scaling' },
        ],
      },
      { text: 'Migrating from Cognito Sync', link: '/migrating' },
      { text: 'API reference', link: '/api/', collapsed: true, items: apiSidebar },
    ],
    search: { provider: 'local' },
    outline: { level: [2, 3] },
  },
})
