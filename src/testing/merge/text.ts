/**
 * How traces show keys and values: quoted, with the characters a reader cannot see written as
 * escapes (a zero-width space and an empty string look alike otherwise), and long values cut short
 * with their length, so a counterexample with a megabyte value still fits on a line.
 */

const SHOWN_CHARACTERS = 24

/**
 * Invisible or look-alike characters: controls, spaces other than U+0020, zero-width and
 * direction marks, byte-order marks, lone surrogates and combining marks with nothing to sit on.
 */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zs}\p{Zl}\p{Zp}\p{Cs}\p{M}]/gu

function codePointEscape(character: string): string {
  return `\\u{${(character.codePointAt(0) ?? 0).toString(16)}}`
}

/** A string as a trace shows it: quoted, hidden characters escaped, cut after a few characters. */
export function showText(text: string): string {
  const characters = [...text]
  const shown = characters.slice(0, SHOWN_CHARACTERS).join('')
  const body = JSON.stringify(shown)
    .slice(1, -1)
    .replace(HIDDEN, (character) => (character === ' ' ? ' ' : codePointEscape(character)))
  if (characters.length <= SHOWN_CHARACTERS) return `"${body}"`
  return `"${body}…" (${text.length} chars)`
}

/** A record value as a trace shows it: `∅` for a removed record. */
export function showValue(value: string | null): string {
  return value === null ? '∅' : showText(value)
}

/** A record key as a trace shows it: bare when it is a plain identifier, quoted otherwise. */
export function showKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]{0,23}$/.test(key) ? key : showText(key)
}

/** `key=value` for one record. */
export function showEntry(key: string, value: string | null): string {
  return `${showKey(key)}=${showValue(value)}`
}

/** The live records of a view, as `{a: "x", b: "y"}` sorted by key. */
export function showView(view: ReadonlyMap<string, string>): string {
  const entries = [...view].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([key, value]) => `${showKey(key)}: ${showValue(value)}`).join(', ')}}`
}
