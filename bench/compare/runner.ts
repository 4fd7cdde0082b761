import type { Probe } from './workload.js'

export interface Plan {
  /** Unmeasured samples per probe, taken before any measured one. */
  readonly warmUp: number
  /** Measured samples per probe. */
  readonly samples: number
  /** The probes take turns in this many rounds. */
  readonly rounds: number
}

export interface Measured {
  readonly probe: Probe
  readonly samples: readonly number[]
  /** Requests (or messages) sent per measured sample, where the probe counts them. */
  readonly requestsPerSample: number | undefined
}

/**
 * Warms every probe up, then measures them in turns: round r takes its share of samples from each
 * probe in order. On a shared machine, load comes and goes; taking turns spreads it over every row
 * instead of landing on whichever ran at that moment.
 */
export async function measureInTurns(
  probes: readonly Probe[],
  plan: Plan,
  progress: (message: string) => void = () => {},
): Promise<Measured[]> {
  const next = new Map<Probe, number>()
  const samples = new Map<Probe, number[]>()
  const requests = new Map<Probe, number>()
  for (const probe of probes) {
    progress(`warming up: ${probe.label}`)
    for (let i = 0; i < plan.warmUp; i++) await probe.sample(i)
    next.set(probe, plan.warmUp)
    samples.set(probe, [])
    requests.set(probe, 0)
  }
  for (let round = 0; round < plan.rounds; round++) {
    const share = Math.ceil(plan.samples / plan.rounds)
    for (const probe of probes) {
      const taken = samples.get(probe) as number[]
      const count = Math.min(share, plan.samples - taken.length)
      progress(`round ${round + 1}/${plan.rounds}: ${probe.label} (${count})`)
      const before = probe.requests?.() ?? 0
      let i = next.get(probe) as number
      for (let k = 0; k < count; k++) taken.push(await probe.sample(i++))
      next.set(probe, i)
      requests.set(probe, (requests.get(probe) as number) + (probe.requests?.() ?? 0) - before)
    }
  }
  return probes.map((probe) => {
    const taken = samples.get(probe) as number[]
    return {
      probe,
      samples: taken,
      requestsPerSample:
        probe.requests === undefined ? undefined : (requests.get(probe) as number) / taken.length,
    }
  })
}
