/**
 * Canary against stable on the same window, with tests that know their sample size
 * (Kayenta's idea, done in the proxy per window): is the canary's error rate higher than
 * the stable one's beyond what chance gives for these counts?
 */

/** The standard normal distribution function Φ (Abramowitz & Stegun 26.2.17, error < 7.5e-8). */
export function normalCdf(z: number): number {
  if (z < 0) return 1 - normalCdf(-z);
  const t = 1 / (1 + 0.2316419 * z);
  const poly = t * (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
  return 1 - (Math.exp((-z * z) / 2) / Math.sqrt(2 * Math.PI)) * poly;
}

/** The z with normalCdf(z) = p (0.5 < p < 1), by bisection: 0.999 → 3.09. */
export function normalQuantile(p: number): number {
  let low = 0;
  let high = 10;
  for (let i = 0; i < 60; i += 1) {
    const mid = (low + high) / 2;
    if (normalCdf(mid) < p) low = mid;
    else high = mid;
  }
  return (low + high) / 2;
}

export interface Proportion {
  readonly errors: number;
  readonly requests: number;
}

/**
 * One-sided two-proportion z-test (pooled): the confidence (0..1) that the canary's true
 * error rate is above the stable one's. 0.5 when the windows say nothing either way (no
 * requests on a side, or no errors at all).
 *
 * @example
 *   errorRateConfidence({ errors: 30, requests: 1000 }, { errors: 2, requests: 1000 }); // 0.99999…
 */
export function errorRateConfidence(canary: Proportion, stable: Proportion): number {
  if (canary.requests === 0 || stable.requests === 0) return 0.5;
  const p1 = canary.errors / canary.requests;
  const p2 = stable.errors / stable.requests;
  const pooled = (canary.errors + stable.errors) / (canary.requests + stable.requests);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / canary.requests + 1 / stable.requests));
  if (se === 0) return 0.5;
  return normalCdf((p1 - p2) / se);
}

/**
 * The score of a window, 0..100 like Kayenta's: 100 when nothing says the canary is worse,
 * falling as the confidence that it is worse rises past even odds.
 */
export function score(confidenceWorse: number): number {
  return Math.round(100 * Math.min(1, 2 * (1 - confidenceWorse)));
}
