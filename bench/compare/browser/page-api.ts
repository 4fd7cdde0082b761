/**
 * What every benchmark page puts on `window.bench`, whatever library it runs: the driver writes on
 * one page and watches another's `changes`.
 */
export interface BenchPage {
  /** One clock for every page of the browser: `performance.timeOrigin + performance.now()`. */
  now(): number
  /** What an app does to write one key and send it. */
  write(key: string, value: string): Promise<void>
  /** Keys this page received from another device, each with the time it held the value. */
  readonly changes: Array<{ readonly key: string; readonly at: number }>
}

export const pageClock = (): number => performance.timeOrigin + performance.now()

/** A setting of the page's query string. */
export function pageSetting(name: string): string {
  const value = new URLSearchParams(location.search).get(name)
  if (value === null) throw new Error(`missing ?${name}=`)
  return value
}
