"""Fits the polynomials of @normkit/tensor's erf (packages/tensor/src/kernels/js/math.ts) and writes
the 50-digit reference values its test checks against (packages/tensor/src/kernels/js/erf-reference.json).

Run with any Python that has mpmath (Debian: python3-mpmath, a dependency of python3-sympy):
    /usr/bin/python3 tools/erf-fit.py          # prints the coefficient arrays and rewrites the fixture

Pieces (see math.ts): |x| < 1: erf(x) = x + x*A(x^2); 1 <= |x| < 2.5: erfc(x) = exp(-x^2)*B(|x| - 1.75);
2.5 <= |x| < 6: erfc(x) = exp(-x^2)/|x| * C(1/x^2 - c). Chebyshev least-squares fits (mpmath.chebyfit).
"""
import json
import math
import os
import random

import mpmath as mp

mp.mp.dps = 50
SMALL_END, MIDDLE_END, TAIL_END = 1, 2.5, 6
MIDDLE_CENTRE = (SMALL_END + MIDDLE_END) / 2


def erf_over_x(t):
    if t == 0:
        return 2 / mp.sqrt(mp.pi)
    x = mp.sqrt(t)
    return mp.erf(x) / x


def erfcx(x):
    return mp.erfc(x) * mp.exp(x * x)


small = mp.chebyfit(erf_over_x, [0, SMALL_END ** 2], 13)
small[-1] -= 1  # erf(x) = x + x * (erf(x)/x - 1): the 1 is added exactly
half = (MIDDLE_END - SMALL_END) / 2
middle = mp.chebyfit(lambda u: erfcx(u + mp.mpf(MIDDLE_CENTRE)), [-half, half], 17)
low, high = mp.mpf(1) / TAIL_END ** 2, 1 / mp.mpf(MIDDLE_END) ** 2
tail_centre = (low + high) / 2
tail = mp.chebyfit(lambda v: (lambda x: x * erfcx(x))(1 / mp.sqrt(v + tail_centre)), [low - tail_centre, high - tail_centre], 12)

for name, coefficients in (('ERF_SMALL', small), ('ERFCX_MIDDLE', middle), ('ERFCX_TAIL', tail)):
    print(f'const {name} = [')
    for value in coefficients:
        print(f'  {float(value)!r},')
    print('] as const;')
print(f'const ERFCX_MIDDLE_CENTRE = {MIDDLE_CENTRE!r};')
print(f'const ERFCX_TAIL_CENTRE = {float(tail_centre)!r};')

random.seed(20261206)
points = [0.0, 5e-324, 1e-300, 1e-8, 0.5, 1.0, 2.0, 2.5, 3.0, 4.0, 5.9999999999, 6.0, 7.0, 27.0]
points += [math.nextafter(edge, 0) for edge in (SMALL_END, MIDDLE_END, TAIL_END)]
points += [random.uniform(0, 1) for _ in range(150)] + [random.uniform(1, 2.5) for _ in range(150)]
points += [random.uniform(2.5, 6.5) for _ in range(100)]
points += [-p for p in points[:40]]
reference = [[x, float(mp.erf(mp.mpf(x)))] for x in points]
target = os.path.join(os.path.dirname(__file__), '..', 'packages', 'tensor', 'src', 'kernels', 'js', 'erf-reference.json')
with open(target, 'w') as handle:
    json.dump({'source': 'mpmath.erf at 50 digits, rounded to float64 (tools/erf-fit.py)', 'points': reference}, handle)
print(f'wrote {len(reference)} reference values to {os.path.normpath(target)}')
