// Seeded randomness. Every random choice of the simulator comes from a stream built here, so a seed replays a run.

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/** mulberry32: tiny, fast and good enough for simulation (not for secrets). */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Mixes integers into one 32-bit seed. Each task gets its own stream from (seed, ordinal), so its token and timing
 * do not depend on how requests of other tasks interleave.
 */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    // split so ordinals above 2^32 still mix in their high bits
    for (const word of [part >>> 0, Math.floor(part / 4294967296) >>> 0]) {
      h = Math.imul(h ^ word, 0x01000193);
      h ^= h >>> 13;
      h = Math.imul(h, 0x5bd1e995);
      h ^= h >>> 15;
    }
  }
  return h >>> 0;
}

export function randomInt(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

export function randomChars(rng: Rng, alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(rng() * alphabet.length)];
  return out;
}

/**
 * A duration in [min, max] whose median is `median`: u^k with k chosen so that the middle draw lands on the median,
 * which gives the long right tail real solve times have.
 */
export function skewedDuration(rng: Rng, range: { min: number; median: number; max: number }): number {
  const { min, median, max } = range;
  if (max <= min) return min;
  const k = Math.log((median - min) / (max - min)) / Math.log(0.5);
  return min + (max - min) * rng() ** k;
}
