import type { Resolution } from '../../core/conflict.js'
import type { SyncRecord } from '../../core/model.js'
import type { Conflict } from '../../core/pull.js'

/** Where an entry happened: its place in the journal's order, the step and the device. */
interface Entry {
  /** Order of all entries of a simulation, across kinds. */
  readonly seq: number
  /** The step (1-based as a trace numbers them), or 0 during a quiet round. */
  readonly step: number
  readonly device: number
}

/** A local write the device's storage accepted. */
export interface AcceptedWrite extends Entry {
  readonly key: string
  readonly value: string | null
  /** The server's newest version of the key when the write was made. */
  readonly serverVersion: number | undefined
}

/** A conflict handed to the resolver, and what came of it. */
export interface ConflictDecision extends Entry {
  readonly conflict: Conflict
  readonly outcome:
    | { readonly ok: true; readonly resolution: Resolution; readonly stored: SyncRecord }
    | { readonly ok: false; readonly problem: string }
}

/**
 * Something that fails a sync and would fail every later one the same way:
 * - `resolver-threw`, `not-a-resolution`: the resolver threw, or returned something else than a resolution;
 * - `invalid-resolution`: its value breaks a rule of values (`validateValue`);
 * - `over-quota`: its value makes the dataset grow past a quota the server enforces;
 * - `refused`: the server refused a push (a quota or a rule); `byResolver` tells whether a value
 *   the resolver made was in it.
 */
export interface SyncProblem extends Entry {
  readonly kind: 'resolver-threw' | 'not-a-resolution' | 'invalid-resolution' | 'over-quota' | 'refused'
  readonly byResolver: boolean
  readonly message: string
}

/** Rows that went without reaching the server, and why that loses nothing. */
export interface SettledWithoutServer extends Entry {
  readonly key: string | undefined
  readonly reason: 'dataset-deleted-locally' | 'dataset-deleted-on-server'
}

/** What a simulation did, for the checks to judge. */
export class Journal {
  readonly writes: AcceptedWrite[] = []
  readonly conflicts: ConflictDecision[] = []
  readonly problems: SyncProblem[] = []
  readonly settled: SettledWithoutServer[] = []
  private seq = 0

  /** The `seq` of the next entry. */
  next(): number {
    return this.seq++
  }
}
