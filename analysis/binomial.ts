// Exact binomial tail probabilities and the one-sided Clopper–Pearson lower
// bound, for the gate's early-failure test. Pure arithmetic on purpose: it
// runs inside Temporal workflow code, so it imports nothing. V8's Math.log,
// exp, log1p, pow and sin are ports of fdlibm, so a replay on another machine
// with the same Node version computes the same bits.

/** P(X >= k) for X ~ Binomial(n, p). */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  // Sum from k away from the mode, where terms shrink geometrically, and
  // complement when k is below the mean: both sums then converge quickly
  // and neither subtracts two numbers close to 1 in the tail we care about.
  if (k > n * p) return sumPmf(k, n, p, +1);
  return Math.max(0, 1 - sumPmf(k - 1, n, p, -1));
}

/**
 * The one-sided (1 - alpha) Clopper–Pearson lower bound of a proportion with
 * k successes in n trials: the smallest p for which seeing k or more is not
 * surprising at level alpha. `lower > p0` exactly when
 * `binomialUpperTail(k, n, p0) < alpha`, which is the cheaper test to decide on.
 */
export function clopperPearsonLower(k: number, n: number, alpha: number): number {
  if (k <= 0 || n <= 0) return 0;
  if (k >= n) return Math.pow(alpha, 1 / n);
  let lo = 0;
  let hi = k / n;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (binomialUpperTail(k, n, mid) < alpha) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Sum of pmf(i) for i = from, from + step, ... until the terms stop mattering. */
function sumPmf(from: number, n: number, p: number, step: 1 | -1): number {
  const odds = p / (1 - p);
  let term = Math.exp(logChoose(n, from) + from * Math.log(p) + (n - from) * Math.log1p(-p));
  let sum = 0;
  for (let i = from; i >= 0 && i <= n; i += step) {
    sum += term;
    if (term <= sum * 1e-17) break;
    // pmf(i+1) = pmf(i) * (n-i)/(i+1) * p/(1-p), and its inverse going down.
    term = step === 1 ? (term * (n - i) * odds) / (i + 1) : (term * i) / ((n - i + 1) * odds);
  }
  return Math.min(sum, 1);
}

function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

// Lanczos approximation (g = 7, 9 terms), about 15 significant digits.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7,
];

function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0] ?? 1;
  const t = z + 7.5;
  for (let i = 1; i < LANCZOS.length; i++) a += (LANCZOS[i] ?? 0) / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}
