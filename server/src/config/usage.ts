import { type Setting, type SettingGroup, settings } from './schema.js'

/** The `--help` text and the documentation's table, both made from the settings schema. */

const GROUPS: readonly SettingGroup[] = ['Server', 'Sign-in', 'Push delivery', 'AWS', 'Operations']
const WIDTH = 100
const FLAG_COLUMN = 30

const flagText = (setting: Setting): string =>
  `--${setting.flag}${setting.arg === undefined ? '' : ` ${setting.arg}`}`

const envText = (setting: Setting): string => {
  if (setting.arg === undefined) return `${setting.env}=1`
  if (!setting.repeatable) return setting.env
  const separator = setting.separator ?? ','
  return `${setting.env}, ${separator === ',' ? 'comma' : 'semicolon'}-separated`
}

/** `text` in lines of at most `width` characters, the first `firstWidth`. */
function wrap(text: string, firstWidth: number, width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    const limit = lines.length === 0 ? firstWidth : width
    if (line !== '' && line.length + 1 + word.length > limit) {
      lines.push(line)
      line = word
    } else line = line === '' ? word : `${line} ${word}`
  }
  if (line !== '') lines.push(line)
  return lines
}

function usageLine(setting: Setting): string {
  const flag = `  ${flagText(setting)}`
  const notes = [
    `env ${envText(setting)}`,
    ...(setting.default === undefined ? [] : [`default ${setting.default}`]),
    ...(setting.repeatable ? ['repeatable'] : []),
  ]
  const text = `${setting.help} (${notes.join('; ')})`
  const indent = ' '.repeat(FLAG_COLUMN)
  const width = WIDTH - FLAG_COLUMN
  if (flag.length < FLAG_COLUMN - 1) {
    const [first = '', ...rest] = wrap(text, width, width)
    return [flag.padEnd(FLAG_COLUMN) + first, ...rest.map((line) => indent + line)].join('\n')
  }
  return [flag, ...wrap(text, width, width).map((line) => indent + line)].join('\n')
}

export function usage(): string {
  const all = settings()
  const sections = GROUPS.map((group) =>
    [`${group}:`, ...all.filter((setting) => setting.group === group).map(usageLine)].join('\n'),
  )
  return `Usage: pushsync-server [options]

${sections.join('\n\n')}

Settings file:
${usageLine({
  flag: 'config',
  arg: 'FILE',
  env: 'PUSHSYNC_CONFIG',
  help: 'read settings from a JSON file, fields named as in the documentation (port, throttle.guestRate...)',
  group: 'Server',
  path: [],
})}
  --help                      print this text

A flag wins over its variable, a variable over the file, the file over the default.
`
}

const cell = (text: string): string => text.replaceAll('|', '\\|')

/** The documentation's reference table (Markdown, columns aligned), one row per setting. */
export function referenceTable(): string {
  const rows = settings().map((setting) => [
    `\`${cell(flagText(setting))}\``,
    `\`${setting.env}\`${setting.repeatable ? ` (${setting.separator === ';' ? ';' : ','}-separated)` : ''}`,
    `\`${setting.path.join('.')}\``,
    setting.default === undefined ? '' : cell(setting.default),
    cell(setting.help) + (setting.repeatable ? '; repeatable' : ''),
  ])
  const header = ['Flag', 'Environment', 'Config file', 'Default', 'Meaning']
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  )
  const line = (cells: readonly string[]) =>
    `| ${cells.map((text, column) => text.padEnd(widths[column] ?? 0)).join(' | ')} |`
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n')
}
