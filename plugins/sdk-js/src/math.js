// @ts-check
/**
 * The few functions the indicators need beyond `+ - * /` and `Math.sqrt`, written out so that
 * they give the same bits in every language of the SDK and on every platform: the natural
 * logarithm and exponential (`Math.log` and `Math.exp` differ between JavaScript engines, and
 * from glibc and wasi-libc, in the last bit), and the larger and smaller of two numbers
 * (`Math.max` and `Math.min` treat NaN differently from the other languages' own).
 *
 * The Rust (`math.rs`) and Python (`math.py`) SDKs hold the same functions, operation for
 * operation; the shared vector file (`plugins/vectors/indicators.json`) holds them to it.
 * @module
 */

/** ln 2, split so that `k * LN2_HI` is exact for any exponent `k`: its low 21 bits are zero. */
const LN2_HI = 6.931471803691238e-1;
/** ln 2 − `LN2_HI`. */
const LN2_LO = 1.9082149292705877e-10;
const INV_LN2 = 1.4426950408889634;
const TWO_54 = 18014398509481984;
const EXP_MAX = 709.782712893384;
const EXP_MIN = -745.1332191019411;
const MIN_POSITIVE = 2.2250738585072014e-308;

/** `2 / (2j + 1)` for j from 1 to 11: the series of `ln((1+s)/(1−s)) / s` past its first term. */
const LN_SERIES = [2 / 3, 2 / 5, 2 / 7, 2 / 9, 2 / 11, 2 / 13, 2 / 15, 2 / 17, 2 / 19, 2 / 21, 2 / 23];
/** `1 / j!` for j from 2 to 14: the exponential's series past its second term, over r². */
const EXP_SERIES = [
  1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040, 1 / 40320, 1 / 362880, 1 / 3628800,
  1 / 39916800, 1 / 479001600, 1 / 6227020800, 1 / 87178291200,
];

/** Eight bytes to read a number's bits through. */
const bits = new DataView(new ArrayBuffer(8));

/**
 * The natural logarithm of `x`, within about one unit in the last place: NaN for NaN and for
 * `x < 0`, −∞ for ±0, +∞ for +∞. The method is in `math.rs`.
 * @param {number} x
 * @returns {number}
 */
export function ln(x) {
  if (Number.isNaN(x) || x < 0) {
    return NaN;
  }
  if (x === 0) {
    return -Infinity;
  }
  if (x === Infinity) {
    return x;
  }
  let k = 0;
  if (x < MIN_POSITIVE) {
    x *= TWO_54;
    k = -54;
  }
  bits.setFloat64(0, x);
  const hi = bits.getUint32(0);
  const lo = bits.getUint32(4);
  k += (hi >>> 20) - 1023;
  const fraction = hi & 0x000fffff;
  let m;
  if (fraction >= 0x6a09e) {
    k += 1;
    m = fromWords(fraction | 0x3fe00000, lo);
  } else {
    m = fromWords(fraction | 0x3ff00000, lo);
  }
  const f = m - 1;
  const s = f / (2 + f);
  const z = s * s;
  const t = z * horner(LN_SERIES, z);
  const r = f - s * (f - t);
  return k * LN2_HI + (r + k * LN2_LO);
}

/**
 * `e` to the power `x`, within about one unit in the last place: NaN for NaN, +∞ above about
 * 709.78, 0 below about −745.13. The method is in `math.rs`.
 * @param {number} x
 * @returns {number}
 */
export function exp(x) {
  if (Number.isNaN(x)) {
    return NaN;
  }
  if (x > EXP_MAX) {
    return Infinity;
  }
  if (x < EXP_MIN) {
    return 0;
  }
  const k = Math.floor(x * INV_LN2 + 0.5);
  const r = (x - k * LN2_HI) - k * LN2_LO;
  const q = horner(EXP_SERIES, r);
  const y = 1 + (r + r * r * q);
  if (k > 1023) {
    return y * 2 * powerOfTwo(k - 1);
  }
  if (k < -1022) {
    return y * powerOfTwo(k + 1000) * powerOfTwo(-1000);
  }
  return y * powerOfTwo(k);
}

/**
 * The larger of `a` and `b`, or `a` when they are equal; the other when one is NaN.
 * @param {number} a
 * @param {number} b
 */
export function larger(a, b) {
  return a >= b || Number.isNaN(b) ? a : b;
}

/**
 * The smaller of `a` and `b`, or `a` when they are equal; the other when one is NaN.
 * @param {number} a
 * @param {number} b
 */
export function smaller(a, b) {
  return a <= b || Number.isNaN(b) ? a : b;
}

/**
 * `c[0] + x·(c[1] + x·(… + x·c[last]))`, the last coefficient first.
 * @param {number[]} c
 * @param {number} x
 */
function horner(c, x) {
  let acc = c[c.length - 1];
  for (let j = c.length - 2; j >= 0; j--) {
    acc = c[j] + x * acc;
  }
  return acc;
}

/**
 * 2^e for e from −1022 to 1023.
 * @param {number} e
 */
function powerOfTwo(e) {
  return fromWords((e + 1023) << 20, 0);
}

/**
 * The number whose high and low 32 bits are `hi` and `lo`.
 * @param {number} hi
 * @param {number} lo
 */
function fromWords(hi, lo) {
  bits.setUint32(0, hi);
  bits.setUint32(4, lo);
  return bits.getFloat64(0);
}
