/**
 * An incremental parser of `text/event-stream` (the WHATWG HTML standard's "Server-sent events",
 * §9.2.6), for reading a stream through `fetch`: `EventSource` cannot send an `Authorization` header.
 */

/** One dispatched event. */
export interface SseEvent {
  /** The `event` field; `'message'` when the event has none. */
  readonly type: string
  /** The `data` lines joined with `\n`. */
  readonly data: string
  /** The last event id at dispatch: the latest `id` field of this event or an earlier one, else `''`. */
  readonly id: string
}

/** Feeds text as it arrives; returns the events each piece completes. */
export interface SseParser {
  /**
   * Parses the next piece of the stream. A piece may end anywhere: inside a field, between a CR and
   * its LF; the rest is kept for the next call.
   */
  feed(text: string): SseEvent[]
  /** The last event id seen so far (what `Last-Event-ID` sends on reconnect), `''` before any. */
  readonly lastEventId: string
  /** The last `retry` field, in ms, or `undefined` when the stream sent none. */
  readonly retryMs: number | undefined
}

/**
 * Creates a parser for one stream. Lines end in CRLF, LF or CR; lines starting with `:` are comments
 * (heartbeats); unknown fields are ignored; an event ends at an empty line and is dispatched only
 * when it has data. An event cut off by the end of the stream is never dispatched: the caller simply
 * stops feeding.
 *
 * @param lastEventId - the last event id of an earlier connection of the same source, which events
 *   without an `id` field keep reporting.
 */
export function createSseParser(lastEventId = ''): SseParser {
  let buffer = ''
  let started = false
  // A chunk ending in CR: an LF opening the next chunk belongs to the same line ending.
  let skipLeadingLf = false
  let data: string[] = []
  let type = ''
  let retryMs: number | undefined

  const line = (text: string, out: SseEvent[]) => {
    if (text === '') {
      if (data.length > 0)
        out.push({ type: type === '' ? 'message' : type, data: data.join('\n'), id: lastEventId })
      data = []
      type = ''
      return
    }
    if (text.startsWith(':')) return
    const colon = text.indexOf(':')
    const field = colon < 0 ? text : text.slice(0, colon)
    let value = colon < 0 ? '' : text.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    switch (field) {
      case 'event':
        type = value
        break
      case 'data':
        data.push(value)
        break
      case 'id':
        // The standard ignores an id holding NULL: it could not be sent back in a header.
        if (!value.includes('\0')) lastEventId = value
        break
      case 'retry':
        if (/^\d+$/.test(value)) retryMs = Number(value)
        break
    }
  }

  return {
    feed(text) {
      const out: SseEvent[] = []
      let piece = text
      if (!started && piece !== '') {
        started = true
        // One byte order mark may open the stream.
        if (piece.startsWith('\uFEFF')) piece = piece.slice(1)
      }
      if (skipLeadingLf && piece !== '') {
        skipLeadingLf = false
        if (piece.startsWith('\n')) piece = piece.slice(1)
      }
      buffer += piece
      let start = 0
      for (let i = 0; i < buffer.length; i++) {
        const char = buffer[i]
        if (char !== '\n' && char !== '\r') continue
        line(buffer.slice(start, i), out)
        if (char === '\r') {
          if (i + 1 === buffer.length) skipLeadingLf = true
          else if (buffer[i + 1] === '\n') i++
        }
        start = i + 1
      }
      buffer = buffer.slice(start)
      return out
    },
    get lastEventId() {
      return lastEventId
    },
    get retryMs() {
      return retryMs
    },
  }
}
