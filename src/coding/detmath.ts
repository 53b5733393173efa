/**
 * Deterministic exp, log and erfc: the same bits on every platform.
 *
 * `Math.exp`, `Math.log` and friends are not required to be correctly rounded, and engines
 * differ in the last bit. Entropy-coding tables built from them could then differ between an
 * encoder and a decoder on different machines, which breaks decoding. These functions use only
 * IEEE-754 binary64 operations that every conforming platform rounds identically
 * (+ − × ÷, comparisons, and the exact `Math.round` / `Math.abs`), evaluated in a fixed
 * order. ECMAScript forbids fusing a·b + c into one rounding, so JavaScript engines qualify;
 * a port to C must build with `-ffp-contract=off`, and pure Python floats qualify as is.
 *
 * Accuracy (about 1e-15 relative for exp and log, 1.2e-7 relative for erfc) is far finer
 * than the 2^-16 resolution of the tables built from them; determinism is the point.
 * Series coefficients are computed at load time from exact ratios (1/n!, 1/(2i+1)); the
 * other constants are decimal literals of at most 17 significant digits, which ECMAScript
 * parses with correct rounding.
 * @module
 */

const LN2 = 0.6931471805599453;
// ln 2 split so that k · LN2_HI is exact for |k| < 2^21 (LN2_HI has 21 trailing zero bits):
// fdlibm's 0x3FE62E42FEE00000 and 0x3DEA39EF35793C76.
const LN2_HI = 0.6931471803691238;
const LN2_LO = 1.9082149292705877e-10;
const INV_LN2 = 1.4426950408889634;

// 2^k for k in [-1022, 1023], by exact doubling and halving.
const POW2_BIAS = 1022;
const POW2: Float64Array = (() => {
  const t = new Float64Array(2046);
  t[POW2_BIAS] = 1;
  for (let k = 1; k <= 1023; k++) t[POW2_BIAS + k] = t[POW2_BIAS + k - 1] * 2;
  for (let k = 1; k <= 1022; k++) t[POW2_BIAS - k] = t[POW2_BIAS - k + 1] * 0.5;
  return t;
})();

// 1/n! for n = 0..14: the Taylor series of exp on |r| ≤ ln2/2 has converged to 1e-17 there.
const EXP_COEF: Float64Array = (() => {
  const c = new Float64Array(15);
  c[0] = 1;
  for (let n = 1; n < c.length; n++) c[n] = c[n - 1] / n;
  return c;
})();

// 1/(2i+1) for the atanh series of log on [1/√2, √2], |s| ≤ 0.172: 12 terms reach 1e-18.
const LOG_COEF: Float64Array = (() => {
  const c = new Float64Array(12);
  for (let i = 0; i < c.length; i++) c[i] = 1 / (2 * i + 1);
  return c;
})();

/** `x · 2^k` for |k| ≤ 2044, in two exact-or-once-rounded steps so no table index overflows. */
function ldexp(x: number, k: number): number {
  const k1 = k >> 1;
  return x * POW2[POW2_BIAS + k1] * POW2[POW2_BIAS + k - k1];
}

/** e^x, bit-identical on every IEEE-754 platform. */
export function detExp(x: number): number {
  if (x !== x) return NaN;
  if (x < -746) return 0;
  if (x > 710) return Infinity;
  const k = Math.round(x * INV_LN2);
  const r = x - k * LN2_HI - k * LN2_LO;
  let p = EXP_COEF[14];
  for (let n = 13; n >= 0; n--) p = p * r + EXP_COEF[n];
  return ldexp(p, k);
}

/** Natural logarithm of a positive finite `x`, bit-identical on every IEEE-754 platform. */
export function detLog(x: number): number {
  if (!(x > 0 && x < Infinity)) return x === 0 ? -Infinity : x === Infinity ? Infinity : NaN;
  let m = x, e = 0;
  // Exact scaling by powers of two into [1, 2).
  while (m >= 2) {
    m *= 0.5;
    e++;
  }
  while (m < 1) {
    m *= 2;
    e--;
  }
  if (m > Math.SQRT2) {
    m *= 0.5;
    e++;
  }
  const s = (m - 1) / (m + 1), s2 = s * s;
  let p = LOG_COEF[LOG_COEF.length - 1];
  for (let i = LOG_COEF.length - 2; i >= 0; i--) p = p * s2 + LOG_COEF[i];
  return e * LN2 + 2 * s * p;
}

/**
 * The complementary error function, bit-identical on every IEEE-754 platform.
 * Numerical Recipes' Chebyshev fit `erfcc` (relative error < 1.2e-7 everywhere), with
 * {@link detExp} in place of the platform's exp.
 */
export function detErfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly = -1.26551223 +
    t * (1.00002368 +
        t * (0.37409196 +
            t * (0.09678418 +
                t * (-0.18628806 +
                    t * (0.27886807 +
                        t *
                          (-1.13520398 +
                            t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const ans = t * detExp(-z * z + poly);
  return x >= 0 ? ans : 2 - ans;
}
