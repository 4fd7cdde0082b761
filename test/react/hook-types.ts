/**
 * The hooks' types follow the schema: checked by `npm run typecheck` (this file is compiled, never
 * run).
 */
import { expectTypeOf } from 'vitest'
import { z } from 'zod'
import type { Dataset, TypedDataset } from '../../src/index.js'
import { useDataset, useRecord } from '../../src/react/index.js'

export function useHookTypes(): void {
  const Enabled = z.boolean()
  const texts = useDataset('settings')
  expectTypeOf(texts.values).toEqualTypeOf<Readonly<Record<string, string>> | undefined>()
  expectTypeOf(texts.dataset).toEqualTypeOf<Dataset | undefined>()
  const typed = useDataset('notifications', { schema: Enabled })
  if (typed.status === 'ready') {
    expectTypeOf(typed.values).toEqualTypeOf<Readonly<Record<string, boolean>>>()
    expectTypeOf(typed.dataset).toEqualTypeOf<TypedDataset<boolean, boolean>>()
  }
  if (typed.status === 'error') expectTypeOf(typed.error.code).toBeString()
  const [theme, setTheme] = useRecord('settings', 'theme')
  expectTypeOf(theme).toEqualTypeOf<string | undefined>()
  expectTypeOf(setTheme).parameter(0).toEqualTypeOf<string | undefined>()
  const [size, setSize] = useRecord('prefs', 'fontSize', { schema: z.number() })
  expectTypeOf(size).toEqualTypeOf<number | undefined>()
  expectTypeOf(setSize).parameter(0).toEqualTypeOf<number | undefined>()
}
