import type { Measured } from './runner.js'
import { formatMs, formatRatio, type Summary, summarize } from './stats.js'
import type { Group, Library } from './workload.js'

/** A measured row with its summary and the ratios the table prints. */
export interface Row {
  readonly label: string
  readonly group: Group
  readonly library: Library
  readonly summary: Summary
  readonly requestsPerSample: number | undefined
  /** p50 and p99 over RxDB's row of the same group. */
  readonly vsRxdb: { readonly p50: number; readonly p99: number } | undefined
  /** p50 over the plain fetch round trip's p50 (push-to-visible rows). */
  readonly vsFetch: number | undefined
}

/** The labels of the rows others are compared with. */
export interface References {
  /** RxDB's default setup, in each group where it has a row. */
  readonly rxdb: string
  /** The plain round trip the push-to-visible rows are compared with. */
  readonly fetch: string
}

export function toRows(measured: readonly Measured[], references: References): Row[] {
  const summaries = measured.map((m) => ({ m, summary: summarize(m.samples) }))
  const reference = (group: Group, label: string) =>
    summaries.find(({ m }) => m.probe.group === group && m.probe.label === label)?.summary
  const plainFetch = reference('round trip', references.fetch)
  return summaries.map(({ m, summary }) => {
    const rxdb = reference(m.probe.group, references.rxdb)
    return {
      label: m.probe.label,
      group: m.probe.group,
      library: m.probe.library,
      summary,
      requestsPerSample: m.requestsPerSample,
      vsRxdb:
        rxdb === undefined || m.probe.group === 'round trip'
          ? undefined
          : { p50: summary.p50 / rxdb.p50, p99: summary.p99 / rxdb.p99 },
      vsFetch:
        plainFetch === undefined || m.probe.group !== 'push to visible'
          ? undefined
          : summary.p50 / plainFetch.p50,
    }
  })
}

const GROUP_TITLES: Record<Group, string> = {
  'round trip': 'round trip, no sync library',
  'push to visible': 'push to visible (write on A → B holds it)',
  'cold sync': 'cold sync of 1,024 records (fresh device)',
}

/** The table as Markdown, one section per group, ready for the docs. */
export function renderTable(rows: readonly Row[]): string {
  const header =
    '| row | n | p50 ms | p90 ms | p99 ms | max ms | p50 ÷ RxDB | p99 ÷ RxDB | p50 ÷ fetch | requests per write |'
  const rule = '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|'
  const lines: string[] = []
  for (const group of ['round trip', 'push to visible', 'cold sync'] as const) {
    const members = rows.filter((row) => row.group === group)
    if (members.length === 0) continue
    lines.push(`| **${GROUP_TITLES[group]}** | | | | | | | | | |`)
    for (const row of members) {
      const { n, p50, p90, p99, max } = row.summary
      lines.push(
        `| ${[
          row.label,
          String(n),
          formatMs(p50),
          formatMs(p90),
          formatMs(p99),
          formatMs(max),
          row.vsRxdb === undefined ? '' : formatRatio(row.vsRxdb.p50),
          row.vsRxdb === undefined ? '' : formatRatio(row.vsRxdb.p99),
          row.vsFetch === undefined ? '' : formatRatio(row.vsFetch),
          row.requestsPerSample === undefined ? '' : row.requestsPerSample.toFixed(2),
        ].join(' | ')} |`,
      )
    }
  }
  return [header, rule, ...lines].join('\n')
}
