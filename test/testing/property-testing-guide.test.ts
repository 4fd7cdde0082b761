/**
 * The guide "Property-test your merge logic" (docs/guide/property-testing.md): its example runs as
 * it says, and the counterexample it prints is the one the check prints today.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { checkListMerge, checkLocalWinsOnLists, lists } from '../../docs/snippets/shopping-list-check.js'
import { localWins } from '../../src/core/index.js'
import { ConflictResolverCheckError, checkConflictResolver } from '../../src/testing/merge/index.js'
import { codeBlocks } from '../docs/markdown.js'

const page = readFileSync(new URL('../../docs/guide/property-testing.md', import.meta.url), 'utf8')

describe('the property-testing guide', () => {
  it('a union of the list items passes, order independence included', async () => {
    await expect(checkListMerge()).resolves.toBeUndefined()
  })

  it('localWins fails the order independence', async () => {
    const error = await checkLocalWinsOnLists().then(
      () => undefined,
      (caught: unknown) => caught,
    )
    expect(error).toBeInstanceOf(ConflictResolverCheckError)
    expect((error as ConflictResolverCheckError).property).toBe('order-independent')
  })

  it('shows the counterexample that seed 1 gives', async () => {
    const shown = codeBlocks(page).filter((block) => block.lang === 'text')
    expect(shown).toHaveLength(1)
    const printed = await checkConflictResolver(localWins, {
      orderIndependent: true,
      values: lists,
      seed: 1,
    }).then(
      () => 'passed',
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    )
    expect(shown[0]?.code.trimEnd()).toBe(printed)
  })
})
