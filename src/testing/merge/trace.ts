/**
 * The readable account of a simulation: one numbered line per step with what happened after a
 * colon, or, for steps where several devices act (a sync of several, a quiet round), their lines
 * indented under it.
 */
export class Trace {
  readonly lines: string[] = []
  /** The line the next `say` extends, if any: a step's own line, or a group's. */
  private target: { readonly index: number; readonly head: string; readonly parts: string[] } | undefined
  /** In a nested step outside any group: each `say` is a line of its own. */
  private nested = false

  /** Starts the line of a step; what happens follows on it, or under it when `nested`. */
  step(label: string, text: string, nested = false): void {
    this.lines.push(`${label}${text}`)
    this.nested = nested
    this.target = nested ? undefined : { index: this.lines.length - 1, head: `${label}${text}`, parts: [] }
  }

  /** Adds what happened during the current step. */
  say(text: string): void {
    if (this.target !== undefined) {
      this.target.parts.push(text)
      this.render()
    } else {
      this.lines.push(this.nested ? `${INDENT}${text}` : text)
    }
  }

  /** Replaces what was said last, when it is `said`; false when it was something else. */
  amend(said: string, replacement: string): boolean {
    const target = this.target
    if (target !== undefined) {
      if (target.parts[target.parts.length - 1] !== said) return false
      target.parts[target.parts.length - 1] = replacement
      this.render()
      return true
    }
    const last = this.lines.length - 1
    if (!this.nested || this.lines[last] !== `${INDENT}${said}`) return false
    this.lines[last] = `${INDENT}${replacement}`
    return true
  }

  /** Under a nested step: one line for `label` that collects what is said until {@link endGroup}. */
  beginGroup(label: string): void {
    this.lines.push(`${INDENT}${label}`)
    this.target = { index: this.lines.length - 1, head: `${INDENT}${label}`, parts: [] }
  }

  /** Ends the group; its line goes when `keep` says it tells nothing worth reading. */
  endGroup(keep: (parts: readonly string[]) => boolean): void {
    const target = this.target
    this.target = undefined
    if (target !== undefined && !keep(target.parts)) this.lines.splice(target.index, 1)
  }

  /** Ends the current step: what is said next is a line of its own. */
  close(): void {
    this.target = undefined
    this.nested = false
  }

  /** A line of its own, after the steps. */
  line(text: string): void {
    this.lines.push(text)
    this.target = undefined
    this.nested = false
  }

  /** The trace as text, one line per line. */
  toString(): string {
    return this.lines.join('\n')
  }

  private render(): void {
    const target = this.target
    if (target === undefined) return
    this.lines[target.index] =
      target.parts.length === 0 ? target.head : `${target.head}: ${target.parts.join('; ')}`
  }
}

const INDENT = '     '
