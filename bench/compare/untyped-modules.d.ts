/**
 * The few parts of PouchDB 9, express-pouchdb and express 4 this benchmark uses: they ship no types
 * of their own, and their DefinitelyTyped packages are not installed.
 */
declare module 'pouchdb-core' {
  interface PouchDocument {
    readonly _id: string
    readonly _rev?: string
    readonly [field: string]: unknown
  }
  interface ReplicationChange {
    readonly direction?: 'push' | 'pull'
    readonly change?: { readonly docs: readonly PouchDocument[] }
    readonly docs?: readonly PouchDocument[]
  }
  interface Replication extends Promise<unknown> {
    on(event: 'change', listener: (info: ReplicationChange) => void): this
    on(event: 'error' | 'denied', listener: (error: unknown) => void): this
    on(event: 'paused' | 'active' | 'complete', listener: (info?: unknown) => void): this
    cancel(): void
  }
  interface ReplicationOptions {
    readonly live?: boolean
    readonly retry?: boolean
    readonly batch_size?: number
  }
  type Fetch = (url: string, options: Record<string, unknown>) => Promise<unknown>
  interface Database {
    put(doc: PouchDocument): Promise<{ ok: boolean; id: string; rev: string }>
    bulkDocs(docs: readonly PouchDocument[]): Promise<unknown[]>
    info(): Promise<{ doc_count: number }>
    sync(remote: Database | string, options?: ReplicationOptions): Replication
    replicate: {
      from(remote: Database | string, options?: ReplicationOptions): Replication
      to(remote: Database | string, options?: ReplicationOptions): Replication
    }
    destroy(): Promise<unknown>
    close(): Promise<void>
  }
  interface PouchDBStatic {
    new (name: string, options?: { readonly adapter?: string; readonly fetch?: Fetch }): Database
    plugin(plugin: unknown): PouchDBStatic
    defaults(options: { readonly adapter?: string }): PouchDBStatic
    fetch: Fetch
  }
  const PouchDB: PouchDBStatic
  export default PouchDB
  export type { Database, PouchDBStatic, PouchDocument, Replication }
}

declare module 'pouchdb-adapter-memory' {
  const plugin: unknown
  export default plugin
}

declare module 'pouchdb-adapter-http' {
  const plugin: unknown
  export default plugin
}

declare module 'pouchdb-replication' {
  const plugin: unknown
  export default plugin
}

declare module 'express-pouchdb' {
  import type { RequestListener } from 'node:http'

  function expressPouchdb(
    PouchDB: unknown,
    options?: { readonly mode?: 'minimumForPouchDB' | 'fullCouchDB'; readonly inMemoryConfig?: boolean },
  ): RequestListener
  export default expressPouchdb
}

declare module 'express' {
  import type { RequestListener, Server } from 'node:http'

  interface Application extends RequestListener {
    use(path: string, handler: RequestListener): Application
    listen(port: number, host: string, ready: () => void): Server
  }
  function express(): Application
  export default express
}
