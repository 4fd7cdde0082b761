/** Fenced code blocks of the Markdown pages (README, guides), as a reader copies them. */

export interface CodeBlock {
  /** The heading of the section it is in. */
  readonly section: string
  readonly lang: string
  readonly code: string
}

export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = []
  let section = ''
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string
    const heading = /^#{1,6} (.+)$/.exec(line)
    if (heading?.[1] !== undefined) section = heading[1]
    const fence = /^```(\w*)/.exec(line)
    if (fence === null) continue
    const body: string[] = []
    for (i++; i < lines.length && !(lines[i] as string).startsWith('```'); i++) body.push(lines[i] as string)
    blocks.push({ section, lang: fence[1] ?? '', code: `${body.join('\n')}\n` })
  }
  return blocks
}

/** The one TypeScript program of a section, such as the README's "Using it". */
export function programOf(markdown: string, section: string): string {
  const programs = codeBlocks(markdown).filter((block) => block.section === section && block.lang === 'ts')
  if (programs.length !== 1)
    throw new Error(`expected one \`\`\`ts block under "${section}", found ${programs.length}`)
  return (programs[0] as CodeBlock).code
}
