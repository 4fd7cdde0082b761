// @ts-check
/**
 * A TypeDoc plugin for the API reference: names each entry point's module after the subpath it
 * is published as (`pushsync/storage/sqlite` rather than `adapters/storage/sqlite`), and keeps a
 * module comment whose description follows its `@module NAME` tag.
 */
import { relative } from 'node:path'
import { Comment, Converter, ReflectionKind } from 'typedoc'

/** Entry file (relative to the repository root) → published name. Mirrors package.json "exports". */
const PUBLISHED_NAMES = {
  'src/index.ts': 'pushsync',
  'src/core/index.ts': 'pushsync/core',
  'src/testing/index.ts': 'pushsync/testing',
  'adapters/storage/memory/index.ts': 'pushsync/storage/memory',
  'adapters/storage/sqlite/index.ts': 'pushsync/storage/sqlite',
  'adapters/storage/indexeddb/index.ts': 'pushsync/storage/indexeddb',
  'adapters/transport/cognito/index.ts': 'pushsync/transport/cognito',
  'adapters/transport/http/index.ts': 'pushsync/transport/http',
  'adapters/transport/websocket/index.ts': 'pushsync/transport/websocket',
  'adapters/push/sse/index.ts': 'pushsync/push/sse',
  'adapters/push/callback/index.ts': 'pushsync/push/callback',
  'adapters/push/webpush/index.ts': 'pushsync/push/webpush',
  'adapters/push/webpush/service-worker.ts': 'pushsync/push/webpush/service-worker',
  'adapters/tabs/web-locks/index.ts': 'pushsync/tabs/web-locks',
  'adapters/session/index.ts': 'pushsync/session',
  'adapters/connectivity/browser/index.ts': 'pushsync/connectivity/browser',
  'src/react/index.ts': 'pushsync/react',
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(
    Converter.EVENT_CREATE_DECLARATION,
    (context, reflection) => {
      if (!reflection.kindOf(ReflectionKind.Module)) return
      const symbol = context.getSymbolFromReflection(reflection)
      const file = symbol?.declarations?.[0]?.getSourceFile().fileName
      const name = file === undefined ? undefined : PUBLISHED_NAMES[relative(process.cwd(), file)]
      const comment = reflection.comment
      const tag = comment?.getTag('@module')
      if (comment !== undefined && tag !== undefined) {
        // `@module NAME` followed by the description: TypeDoc would take it all as the tag's text.
        const text = Comment.combineDisplayParts(tag.content).trim()
        const newline = text.indexOf('\n')
        if (newline !== -1) {
          const description = text.slice(newline + 1).trim()
          comment.summary = [...comment.summary, { kind: 'text', text: description }]
          tag.content = [{ kind: 'text', text: text.slice(0, newline) }]
        }
        if (name !== undefined) tag.content = [{ kind: 'text', text: name }]
      } else if (name !== undefined) {
        reflection.name = name
      }
    },
    // Before TypeDoc's own comment handling, which applies and removes the `@module` tag.
    100,
  )
}
