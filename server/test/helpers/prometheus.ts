/**
 * A reader of Prometheus's text exposition format (version 0.0.4), strict enough that a malformed
 * scrape fails the test: every line is a comment (`# HELP`, `# TYPE`) or a sample
 * `name{label="value",...} number`, label values with their `\\`, `\"` and `\n` escapes.
 */

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Scrape {
  readonly samples: readonly Sample[]
  /** `# TYPE` per metric family. */
  readonly types: ReadonlyMap<string, string>
  /**
   * The value of the one sample of `name` whose labels include `labels`; undefined when none has
   * them. Several matching samples are an error: the question was ambiguous.
   */
  value(name: string, labels?: Readonly<Record<string, string>>): number | undefined
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/
const SPECIAL = new Map([
  ['nan', Number.NaN],
  ['+inf', Number.POSITIVE_INFINITY],
  ['inf', Number.POSITIVE_INFINITY],
  ['-inf', Number.NEGATIVE_INFINITY],
])

export function parseExposition(text: string): Scrape {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  const lines = text.split('\n')
  if (lines.at(-1) !== '') throw new Error('the exposition must end with a newline')
  for (const [index, line] of lines.slice(0, -1).entries()) {
    const fail = (why: string) => new Error(`line ${index + 1} ${JSON.stringify(line)}: ${why}`)
    if (line === '') continue
    if (line.startsWith('#')) {
      const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line)
      if (type?.[1] !== undefined && type[2] !== undefined) types.set(type[1], type[2])
      else if (!/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* /.test(line)) throw fail('not a HELP or TYPE comment')
      continue
    }
    const name = NAME.exec(line)?.[0]
    if (name === undefined) throw fail('no metric name')
    let rest = line.slice(name.length)
    const labels: Record<string, string> = {}
    if (rest.startsWith('{')) {
      rest = rest.slice(1)
      while (!rest.startsWith('}')) {
        const label = LABEL_NAME.exec(rest)?.[0]
        if (label === undefined || rest[label.length] !== '=' || rest[label.length + 1] !== '"')
          throw fail('malformed label')
        rest = rest.slice(label.length + 2)
        let value = ''
        for (;;) {
          const char = rest[0]
          if (char === undefined) throw fail('unterminated label value')
          rest = rest.slice(1)
          if (char === '"') break
          if (char === '\\') {
            const escaped = rest[0]
            rest = rest.slice(1)
            if (escaped === 'n') value += '\n'
            else if (escaped === '\\' || escaped === '"') value += escaped
            else throw fail('bad escape in a label value')
          } else value += char
        }
        if (label in labels) throw fail(`label ${label} repeated`)
        labels[label] = value
        if (rest.startsWith(',')) rest = rest.slice(1)
      }
      rest = rest.slice(1)
    }
    const number = /^ (\S+)(?: -?\d+)?$/.exec(rest)?.[1]
    if (number === undefined) throw fail('no value')
    // Like Prometheus (Go's ParseFloat), NaN and infinities in any case: prom-client writes `Nan`.
    const special = SPECIAL.get(number.toLowerCase())
    const value = special ?? Number(number)
    if (Number.isNaN(value) && special === undefined) throw fail(`value ${number} is not a number`)
    samples.push({ name, labels, value })
  }
  return {
    samples,
    types,
    value(name, wanted = {}) {
      const matching = samples.filter(
        (sample) =>
          sample.name === name &&
          Object.entries(wanted).every(([label, value]) => sample.labels[label] === value),
      )
      if (matching.length > 1)
        throw new Error(`${matching.length} samples of ${name} match ${JSON.stringify(wanted)}`)
      return matching[0]?.value
    },
  }
}
