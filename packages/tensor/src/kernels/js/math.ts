// Scalar functions the `js` kernels and the ops share (a leaf: imports nothing of the package).

const SQRT_PI = Math.sqrt(Math.PI);
export const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** erf to double precision: a positive-term series below 3, the erfc continued fraction above. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    // erf(x) = 2/sqrt(pi) e^{-x^2} sum_n 2^n x^{2n+1} / (1*3*...*(2n+1))
    let term = ax;
    let total = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1);
      total += term;
      if (term < total * 1e-17) break;
    }
    const value = (2 / SQRT_PI) * Math.exp(-x2) * total;
    return x < 0 ? -value : value;
  }
  // erfc(x) = e^{-x^2}/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated backwards.
  let fraction = ax;
  for (let n = 60; n >= 1; n--) fraction = ax + n / 2 / fraction;
  const erfc = Math.exp(-ax * ax) / SQRT_PI / fraction;
  return x < 0 ? erfc - 1 : 1 - erfc;
}

