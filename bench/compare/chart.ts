/**
 * The chart of a run as a hand-written SVG: per group, one horizontal bar pair per row (p50 solid,
 * p99 pale), each group on its own linear scale, with the machine and versions underneath.
 */

import { type Machine, machineLines } from './machine.js'
import { formatMs } from './stats.js'
import type { Row } from './table.js'
import type { Group, Library } from './workload.js'

const WIDTH = 1000
const LABEL_WIDTH = 390
const BAR_AREA = 470
const ROW_HEIGHT = 30
const BAR_HEIGHT = 10
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"'

const COLORS: Record<Library, { p50: string; p99: string }> = {
  pushsync: { p50: '#2563eb', p99: '#93b4f5' },
  rxdb: { p50: '#9333ea', p99: '#cfa6f5' },
  pouchdb: { p50: '#dc6b19', p99: '#f2bd93' },
  baseline: { p50: '#52525b', p99: '#b4b4bb' },
}

const PANELS: ReadonlyArray<{ readonly title: string; readonly groups: readonly Group[] }> = [
  {
    title: 'Push to visible: a write on device A until device B holds it',
    groups: ['round trip', 'push to visible'],
  },
  { title: 'Cold sync: a fresh device pulls 1,024 records', groups: ['cold sync'] },
]

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** A round axis maximum and its tick step for values up to `max`. */
function axis(max: number): { top: number; step: number } {
  const magnitude = 10 ** Math.floor(Math.log10(max))
  for (const factor of [1, 2, 2.5, 5, 10]) {
    const step = (factor * magnitude) / 2
    const top = Math.ceil(max / step) * step
    if (top / step <= 8) return { top, step }
  }
  return { top: Math.ceil(max / magnitude) * magnitude, step: magnitude }
}

function text(x: number, y: number, content: string, attributes = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attributes}>${escapeXml(content)}</text>`
}

export function renderChart(
  rows: readonly Row[],
  machine: Machine,
  heading: string,
  loadAtEnd: number,
): string {
  const parts: string[] = []
  let y = 34
  parts.push(text(16, y, heading, 'font-size="18" font-weight="600" fill="#111"'))
  y += 22
  parts.push(
    text(
      16,
      y,
      'p50 (solid) and p99 (pale), milliseconds, lower is better; each panel has its own scale',
      'font-size="12" fill="#444"',
    ),
  )
  y += 14
  for (const panel of PANELS) {
    const members = rows.filter((row) => panel.groups.includes(row.group))
    if (members.length === 0) continue
    y += 30
    parts.push(text(16, y, panel.title, 'font-size="14" font-weight="600" fill="#111"'))
    y += 12
    const { top, step } = axis(Math.max(...members.map((row) => row.summary.p99)))
    const scale = (ms: number) => (Math.min(ms, top) / top) * BAR_AREA
    const plotTop = y
    const plotBottom = y + members.length * ROW_HEIGHT
    for (let tick = 0; tick <= top + 1e-9; tick += step) {
      const x = LABEL_WIDTH + scale(tick)
      parts.push(
        `<line x1="${x.toFixed(1)}" y1="${plotTop}" x2="${x.toFixed(1)}" y2="${plotBottom}" stroke="#e4e4e7" stroke-width="1"/>`,
      )
      parts.push(
        text(
          x,
          plotBottom + 14,
          String(Number(tick.toPrecision(6))),
          'font-size="11" fill="#666" text-anchor="middle"',
        ),
      )
    }
    members.forEach((row, index) => {
      const rowTop = plotTop + index * ROW_HEIGHT + 4
      const color = COLORS[row.library]
      parts.push(
        text(
          LABEL_WIDTH - 10,
          rowTop + BAR_HEIGHT + 4,
          row.label,
          'font-size="12" fill="#222" text-anchor="end"',
        ),
      )
      const p50 = scale(row.summary.p50)
      const p99 = scale(row.summary.p99)
      parts.push(
        `<rect x="${LABEL_WIDTH}" y="${rowTop}" width="${Math.max(1, p50).toFixed(1)}" height="${BAR_HEIGHT}" fill="${color.p50}"/>`,
      )
      parts.push(
        `<rect x="${LABEL_WIDTH}" y="${rowTop + BAR_HEIGHT + 1}" width="${Math.max(1, p99).toFixed(1)}" height="${BAR_HEIGHT}" fill="${color.p99}"/>`,
      )
      parts.push(
        text(
          LABEL_WIDTH + p50 + 5,
          rowTop + BAR_HEIGHT - 1,
          formatMs(row.summary.p50),
          'font-size="10" fill="#222"',
        ),
      )
      parts.push(
        text(
          LABEL_WIDTH + p99 + 5,
          rowTop + 2 * BAR_HEIGHT,
          formatMs(row.summary.p99),
          'font-size="10" fill="#555"',
        ),
      )
    })
    y = plotBottom + 18
  }
  y += 26
  const [where, versions] = machineLines(machine)
  for (const line of [`${where}, ${loadAtEnd.toFixed(2)} at the end`, versions]) {
    parts.push(text(16, y, line, 'font-size="11" fill="#555"'))
    y += 15
  }
  const height = y + 8
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ${FONT} role="img">`,
    `<title>${escapeXml(heading)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n')
}
