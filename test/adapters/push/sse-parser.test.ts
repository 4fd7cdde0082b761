/**
 * The SSE parser of `pushsync/push/sse`: whatever the chunking of the stream and its line endings,
 * the events parsed are the events sent; comments, heartbeats and unknown fields change nothing.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { reconnectDelay } from '../../../adapters/push/sse/backoff.js'
import { createSseParser, type SseEvent } from '../../../adapters/push/sse/parser.js'

interface SentEvent {
  readonly type: string | undefined
  /** `undefined`: no `id` field, the event keeps the previous id. */
  readonly id: string | undefined
  readonly data: string
}

// Field values are any text without line breaks (and ids without NULL, which the standard drops).
const lineText = fc.string({ unit: 'grapheme', maxLength: 12 }).map((s) => s.replace(/[\r\n]/g, ''))
const sentEvent: fc.Arbitrary<SentEvent> = fc.record({
  type: fc.option(
    lineText.filter((s) => s !== ''),
    { nil: undefined },
  ),
  id: fc.option(
    lineText.map((s) => s.replace(/\0/g, '')),
    { nil: undefined },
  ),
  // Multi-line data: LF inside becomes several `data:` lines.
  data: fc.array(lineText, { minLength: 1, maxLength: 3 }).map((lines) => lines.join('\n')),
})
const comment = fc.constantFrom(': ping', ':', ': heartbeat', 'unknownfield: x', 'retry: 1000')

function serialise(
  events: readonly SentEvent[],
  comments: readonly (string | undefined)[],
  eol: string,
): string {
  let text = ''
  events.forEach((event, i) => {
    const lines: string[] = []
    const before = comments[i]
    if (before !== undefined) lines.push(before)
    if (event.type !== undefined) lines.push(`event: ${event.type}`)
    if (event.id !== undefined) lines.push(`id: ${event.id}`)
    for (const line of event.data.split('\n')) lines.push(`data: ${line}`)
    text += `${lines.join(eol)}${eol}${eol}`
    // A heartbeat between events, as the server sends them.
    if (i % 2 === 0) text += `: ping${eol}`
  })
  return text
}

function expected(events: readonly SentEvent[]): SseEvent[] {
  let id = ''
  return events.map((event) => {
    if (event.id !== undefined) id = event.id
    return { type: event.type ?? 'message', data: event.data, id }
  })
}

/** Cuts `text` at the given fractions of its length, anywhere (between a CR and its LF too). */
function split(text: string, cuts: readonly number[]): string[] {
  const points = [...new Set(cuts.map((cut) => Math.floor(cut * text.length)))].sort((a, b) => a - b)
  const pieces: string[] = []
  let start = 0
  for (const point of points) {
    pieces.push(text.slice(start, point))
    start = point
  }
  pieces.push(text.slice(start))
  return pieces
}

describe('createSseParser', () => {
  it('parses any events back from any chunking and any line ending', () => {
    fc.assert(
      fc.property(
        fc.array(sentEvent, { maxLength: 8 }),
        fc.array(fc.option(comment, { nil: undefined }), { maxLength: 8 }),
        fc.constantFrom('\n', '\r\n', '\r'),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 }),
        (events, comments, eol, cuts) => {
          const parser = createSseParser()
          const parsed = split(serialise(events, comments, eol), cuts).flatMap((piece) => parser.feed(piece))
          expect(parsed).toEqual(expected(events))
        },
      ),
    )
  })

  it('parses a stream fed one character at a time', () => {
    const parser = createSseParser()
    const text = '\uFEFF: ping\r\nevent: sync\r\nid: a:1\r\ndata: {"x":\r\ndata:1}\r\n\r\n'
    const parsed = [...text].flatMap((char) => parser.feed(char))
    expect(parsed).toEqual([{ type: 'sync', data: '{"x":\n1}', id: 'a:1' }])
    expect(parser.lastEventId).toBe('a:1')
  })

  it('follows the standard on the edge cases', () => {
    const parser = createSseParser('earlier')
    const events = parser.feed(
      [
        'data', // a field without a colon: empty data
        '',
        'event: ignored', // no data: nothing is dispatched and the type is reset
        '',
        'data:no space',
        'data:  two spaces',
        '',
        'id: bad\0id', // an id holding NULL is ignored
        'retry: 2500',
        'retry: soon',
        'data: x',
        '',
        'data: cut off by the end of the stream',
      ].join('\n'),
    )
    expect(events).toEqual([
      { type: 'message', data: '', id: 'earlier' },
      { type: 'message', data: 'no space\n two spaces', id: 'earlier' },
      { type: 'message', data: 'x', id: 'earlier' },
    ])
    expect(parser.retryMs).toBe(2500)
  })
})

describe('reconnectDelay', () => {
  it('grows exponentially within [base / 2, base] and never exceeds the maximum', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 5000 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, initialDelayMs, maxDelayMs, random) => {
          const delay = reconnectDelay(attempt, { initialDelayMs, maxDelayMs }, random)
          const base = Math.min(Math.max(maxDelayMs, initialDelayMs), initialDelayMs * 2 ** attempt)
          expect(delay).toBeGreaterThanOrEqual(base / 2)
          expect(delay).toBeLessThanOrEqual(base)
          expect(Number.isFinite(delay)).toBe(true)
        },
      ),
    )
    expect(reconnectDelay(0, {}, 0.999)).toBeLessThanOrEqual(1000)
    expect(reconnectDelay(100, {}, 0.999)).toBeLessThanOrEqual(30_000)
  })
})
