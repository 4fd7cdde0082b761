/** An app's merge logic: a shopping list kept as one record of comma-separated items. */
import type { ConflictResolver } from 'pushsync'

const items = (list: string | null): string[] => (list ?? '').split(',').filter((item) => item !== '')

/** Two devices changed the list: keep every item either has, sorted, so both ends agree. */
export const mergeLists: ConflictResolver = ({ local, remote }) => ({
  kind: 'value',
  value: [...new Set([...items(local.value), ...items(remote.value)])].sort().join(','),
})
