//! The few functions the indicators need beyond `+ - * /` and `sqrt`, written out so that they
//! give the same bits in every language of the SDK and on every platform: the natural
//! logarithm and exponential (the system's `log` and `exp` differ between glibc, wasi-libc and
//! JavaScript engines in the last bit), and the larger and smaller of two numbers (`max` and
//! `min` treat NaN differently from one language to the next).
//!
//! The JavaScript (`math.js`) and Python (`math.py`) SDKs hold the same functions, operation
//! for operation; the shared vector file (`plugins/vectors/indicators.json`) holds them to it.

/// ln 2, split so that `k * LN2_HI` is exact for any exponent `k`: its low 21 bits are zero.
const LN2_HI: f64 = 6.931_471_803_691_238e-1;
/// ln 2 − `LN2_HI`.
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// 1 / ln 2 (the same bits as the other SDKs' 1.4426950408889634).
const INV_LN2: f64 = std::f64::consts::LOG2_E;
/// 2^54: scales a subnormal number into the normal range.
const TWO_54: f64 = 18_014_398_509_481_984.0;
/// The largest `x` whose `exp(x)` is finite.
const EXP_MAX: f64 = 709.782_712_893_384;
/// Below this, `exp(x)` rounds to zero.
const EXP_MIN: f64 = -745.133_219_101_941_1;

/// `2 / (2j + 1)` for j from 1 to 11: the series of `ln((1+s)/(1−s)) / s` past its first
/// term, in powers of `s²`.
const LN_SERIES: [f64; 11] = [
    2.0 / 3.0,
    2.0 / 5.0,
    2.0 / 7.0,
    2.0 / 9.0,
    2.0 / 11.0,
    2.0 / 13.0,
    2.0 / 15.0,
    2.0 / 17.0,
    2.0 / 19.0,
    2.0 / 21.0,
    2.0 / 23.0,
];
/// `1 / j!` for j from 2 to 14: the exponential's series past its second term, divided by r².
const EXP_SERIES: [f64; 13] = [
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5_040.0,
    1.0 / 40_320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0,
    1.0 / 87_178_291_200.0,
];

/// The natural logarithm of `x`, within about one unit in the last place of the exact value:
/// NaN for NaN and for `x < 0`, −∞ for ±0, +∞ for +∞.
///
/// `x = 2^k · m` with `m` in [√2/2, √2); with `f = m − 1` and `s = f / (2 + f)`,
/// `ln m = 2s + s·T(s²)` where `T` is the series of `ln((1+s)/(1−s))` past its first term
/// (eleven terms, enough for `|s| < 0.172`), computed as `f − s·(f − T)` so that the rounding
/// of the small terms barely reaches the result; then `ln x = k·ln 2 + ln m`.
pub fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x == f64::INFINITY {
        return x;
    }
    let (mut x, mut k) = (x, 0i32);
    if x < f64::MIN_POSITIVE {
        x *= TWO_54;
        k = -54;
    }
    let (hi, lo) = words(x);
    k += (hi >> 20) as i32 - 1023;
    let fraction = hi & 0x000f_ffff;
    // The fraction's top bits at or above √2's (0x6a09e) take m into [√2/2, 1) instead.
    let m = if fraction >= 0x6a09e {
        k += 1;
        from_words(fraction | 0x3fe0_0000, lo)
    } else {
        from_words(fraction | 0x3ff0_0000, lo)
    };
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let t = z * horner(&LN_SERIES, z);
    let r = f - s * (f - t);
    let dk = f64::from(k);
    dk * LN2_HI + (r + dk * LN2_LO)
}

/// `e` to the power `x`, within about one unit in the last place of the exact value: NaN for
/// NaN, +∞ above about 709.78, 0 below about −745.13.
///
/// `x = k·ln 2 + r` with `k` the nearest whole number to `x / ln 2` and `|r| ≤ ln 2 / 2`;
/// `e^r = 1 + (r + r²·Q(r))`, `Q` the exponential's series past its second term (to r¹²/14!);
/// then `e^x = 2^k · e^r`.
pub fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x > EXP_MAX {
        return f64::INFINITY;
    }
    if x < EXP_MIN {
        return 0.0;
    }
    let kf = (x * INV_LN2 + 0.5).floor();
    let r = (x - kf * LN2_HI) - kf * LN2_LO;
    let q = horner(&EXP_SERIES, r);
    let y = 1.0 + (r + r * r * q);
    // kf is a whole number from -1075 to 1024.
    let k = kf as i32;
    if k > 1023 {
        y * 2.0 * power_of_two(k - 1)
    } else if k < -1022 {
        y * power_of_two(k + 1000) * power_of_two(-1000)
    } else {
        y * power_of_two(k)
    }
}

/// The larger of `a` and `b`, or `a` when they are equal (so −0 against +0 gives `a`);
/// the other when one is NaN, NaN when both are. As Rust's `f64::max`, but one compare and
/// one select in every language and on wasm32 (where `f64::max` is a call to libm's `fmax`).
#[inline]
pub fn larger(a: f64, b: f64) -> f64 {
    if a >= b || b.is_nan() {
        a
    } else {
        b
    }
}

/// The smaller of `a` and `b`, or `a` when they are equal; the other when one is NaN.
#[inline]
pub fn smaller(a: f64, b: f64) -> f64 {
    if a <= b || b.is_nan() {
        a
    } else {
        b
    }
}

/// `c[0] + x·(c[1] + x·(… + x·c[last]))`, the last coefficient first.
fn horner(c: &[f64], x: f64) -> f64 {
    let (last, rest) = c.split_last().expect("a series has coefficients");
    rest.iter().rev().fold(*last, |acc, &k| k + x * acc)
}

/// 2^e for e from -1022 to 1023.
fn power_of_two(e: i32) -> f64 {
    from_words(((e + 1023) as u32) << 20, 0)
}

/// The high and low 32 bits of `x`.
fn words(x: f64) -> (u32, u32) {
    let bits = x.to_bits();
    ((bits >> 32) as u32, bits as u32)
}

/// The number whose high and low 32 bits are `hi` and `lo`.
fn from_words(hi: u32, lo: u32) -> f64 {
    f64::from_bits(u64::from(hi) << 32 | u64::from(lo))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many representable numbers lie between `a` and `b` (both finite, same sign).
    fn ulps(a: f64, b: f64) -> u64 {
        a.to_bits().abs_diff(b.to_bits())
    }

    #[test]
    fn ln_is_within_one_ulp_of_the_platforms() {
        let mut x = 1e-310_f64;
        let mut worst = 0;
        while x < 1e300 {
            for step in [1.0, 1.000_001, 1.37, 2.5, 3.3] {
                let v = x * step;
                worst = worst.max(ulps(ln(v), v.ln()));
            }
            x *= 1.618;
        }
        assert!(worst <= 1, "{worst} ulps");
        assert_eq!(ln(1.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert_eq!(ln(-0.0), f64::NEG_INFINITY);
        assert_eq!(ln(f64::INFINITY), f64::INFINITY);
        assert!(ln(-1.0).is_nan() && ln(f64::NAN).is_nan() && ln(f64::NEG_INFINITY).is_nan());
    }

    #[test]
    fn exp_is_within_one_ulp_of_the_platforms() {
        let mut worst = 0;
        let mut x = -745.0;
        while x < 709.7 {
            worst = worst.max(ulps(exp(x), x.exp()));
            x += 0.0937;
        }
        for x in [1e-300, -1e-300, 1e-10, -1e-10, 0.5, -0.5, 0.346, -0.346] {
            worst = worst.max(ulps(exp(x), x.exp()));
        }
        assert!(worst <= 1, "{worst} ulps");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(710.0), f64::INFINITY);
        assert_eq!(exp(-746.0), 0.0);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
        assert!(exp(f64::NAN).is_nan());
    }

    #[test]
    fn larger_and_smaller_are_f64_max_and_min_but_for_signed_zeros() {
        let values = [f64::NAN, f64::NEG_INFINITY, -2.5, -0.0, 0.0, 1.0, f64::INFINITY];
        for a in values {
            for b in values {
                let same = |ours: f64, std: f64| ours == std || (ours.is_nan() && std.is_nan());
                assert!(same(larger(a, b), a.max(b)), "larger({a}, {b})");
                assert!(same(smaller(a, b), a.min(b)), "smaller({a}, {b})");
            }
        }
    }
}
