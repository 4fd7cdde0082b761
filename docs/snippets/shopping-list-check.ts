/**
 * Property tests of the shopping list's merge, for any test runner: each function returns a promise
 * that rejects with the shrunk counterexample when a property fails. With vitest:
 * `it('merges lists in any order', () => checkListMerge())`.
 */
import fc from 'fast-check'
import { localWins } from 'pushsync'
import { checkConflictResolver } from 'pushsync/testing/merge'
import { mergeLists } from './shopping-list.js'

/** Lists as the app writes them: sorted items, none twice. */
export const lists = fc.subarray(['bread', 'eggs', 'milk']).map((items) => items.join(','))

/** Valid, convergent, loses nothing, and ends the same whatever order the devices sync in. */
export function checkListMerge(): Promise<void> {
  return checkConflictResolver(mergeLists, { orderIndependent: true, values: lists })
}

/** `localWins` keeps the edit of the device that syncs last: this check fails. */
export function checkLocalWinsOnLists(): Promise<void> {
  return checkConflictResolver(localWins, { orderIndependent: true, values: lists })
}
