"""The few functions the indicators need beyond ``+ - * /`` and ``sqrt``, written out so that
they give the same bits in every language of the SDK and on every platform: the natural
logarithm and exponential (the system's ``log`` and ``exp`` differ between glibc, wasi-libc and
JavaScript engines in the last bit), the larger and smaller of two numbers (``max`` and ``min``
treat NaN differently from one language to the next), and a division that gives IEEE-754's
answer where Python's raises ``ZeroDivisionError``.

The Rust (``math.rs``) and JavaScript (``math.js``) SDKs hold the same functions, operation for
operation; the shared vector file (``plugins/vectors/indicators.json``) holds them to it.
"""

import math as _m
import struct as _struct

__all__ = ["ln", "exp", "larger", "smaller", "divide"]

_LN2_HI = 6.931471803691238e-1
"""ln 2, split so that ``k * _LN2_HI`` is exact for any exponent ``k``: its low 21 bits are zero."""
_LN2_LO = 1.9082149292705877e-10
"""ln 2 - ``_LN2_HI``."""
_INV_LN2 = 1.4426950408889634
_TWO_54 = 18014398509481984.0
_EXP_MAX = 709.782712893384
_EXP_MIN = -745.1332191019411
_MIN_POSITIVE = 2.2250738585072014e-308
_INF = float("inf")
_NAN = float("nan")

_LN_SERIES = (2.0 / 3.0, 2.0 / 5.0, 2.0 / 7.0, 2.0 / 9.0, 2.0 / 11.0, 2.0 / 13.0, 2.0 / 15.0,
              2.0 / 17.0, 2.0 / 19.0, 2.0 / 21.0, 2.0 / 23.0)
"""``2 / (2j + 1)`` for j from 1 to 11: the series of ``ln((1+s)/(1-s)) / s`` past its first term."""
_EXP_SERIES = (1.0 / 2.0, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0, 1.0 / 5040.0,
               1.0 / 40320.0, 1.0 / 362880.0, 1.0 / 3628800.0, 1.0 / 39916800.0,
               1.0 / 479001600.0, 1.0 / 6227020800.0, 1.0 / 87178291200.0)
"""``1 / j!`` for j from 2 to 14: the exponential's series past its second term, over r**2."""

def ln(x: float) -> float:
    """The natural logarithm of ``x``, within about one unit in the last place: NaN for NaN and
    for ``x < 0``, -inf for +-0, +inf for +inf. The method is in ``math.rs``."""
    if x != x or x < 0.0:
        return _NAN
    if x == 0.0:
        return -_INF
    if x == _INF:
        return x
    k = 0
    if x < _MIN_POSITIVE:
        x *= _TWO_54
        k = -54
    lo, hi = _words(x)
    k += (hi >> 20) - 1023
    fraction = hi & 0x000FFFFF
    if fraction >= 0x6A09E:
        k += 1
        m = _from_words(fraction | 0x3FE00000, lo)
    else:
        m = _from_words(fraction | 0x3FF00000, lo)
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    t = z * _horner(_LN_SERIES, z)
    r = f - s * (f - t)
    dk = float(k)
    return dk * _LN2_HI + (r + dk * _LN2_LO)


def exp(x: float) -> float:
    """``e`` to the power ``x``, within about one unit in the last place: NaN for NaN, +inf
    above about 709.78, 0 below about -745.13. The method is in ``math.rs``."""
    if x != x:
        return _NAN
    if x > _EXP_MAX:
        return _INF
    if x < _EXP_MIN:
        return 0.0
    kf = float(_m.floor(x * _INV_LN2 + 0.5))
    r = (x - kf * _LN2_HI) - kf * _LN2_LO
    q = _horner(_EXP_SERIES, r)
    y = 1.0 + (r + r * r * q)
    k = int(kf)
    if k > 1023:
        return y * 2.0 * _power_of_two(k - 1)
    if k < -1022:
        return y * _power_of_two(k + 1000) * _power_of_two(-1000)
    return y * _power_of_two(k)


def larger(a: float, b: float) -> float:
    """The larger of ``a`` and ``b``, or ``a`` when they are equal; the other when one is NaN."""
    return a if a >= b or b != b else b


def smaller(a: float, b: float) -> float:
    """The smaller of ``a`` and ``b``, or ``a`` when they are equal; the other when one is NaN."""
    return a if a <= b or b != b else b


def divide(a: float, b: float) -> float:
    """``a / b`` as IEEE-754 (and the other SDKs) give it: +-inf or NaN for a zero ``b``."""
    if b == 0.0:
        if a == 0.0 or a != a:
            return _NAN
        return _m.copysign(_INF, a) * _m.copysign(1.0, b)
    return a / b


def _horner(c: "tuple[float, ...]", x: float) -> float:
    """``c[0] + x*(c[1] + x*(... + x*c[-1]))``, the last coefficient first."""
    acc = c[-1]
    for k in reversed(c[:-1]):
        acc = k + x * acc
    return acc


def _power_of_two(e: int) -> float:
    """2**e for e from -1022 to 1023."""
    return _from_words((e + 1023) << 20, 0)


def _words(x: float) -> "tuple[int, int]":
    """The low and high 32 bits of ``x``."""
    return _struct.unpack("<II", _struct.pack("<d", x))


def _from_words(hi: int, lo: int) -> float:
    """The number whose high and low 32 bits are ``hi`` and ``lo``."""
    return _struct.unpack("<d", _struct.pack("<II", lo, hi))[0]
