//! A histogram that needs no range beforehand: its bins are 2^e wide and
//! start at multiples of 2^e (bin `i` holds `[i·2^e, (i+1)·2^e)`), and
//! `e` is the least that puts every value counted within [`BINS`] bins.
//! Halving the resolution sums pairs of bins exactly (bin `i` at `e`
//! falls in bin `⌊i/2⌋` at `e + 1`), so two parts' histograms, each at
//! its own resolution, merge into exactly the histogram of all their
//! values at once, whatever the order: a plane counted by parts has the
//! whole plane's counts, and so its threshold, without a pass over the
//! plane to find its range first. The values span between half and all
//! of the [`BINS`] bins.
//!
//! This is the grid of a quadtree's levels, or of the exponent-aligned
//! bins of mergeable streaming histograms (e.g. HdrHistogram, Tene
//! 2012), restricted to one scale at a time.

use super::threshold::{count_bins, range, threshold_of_counts, Method};

/// At most this many bins (twice the frame histogram's 1024, so that
/// the values fill at least as many).
pub const BINS: usize = 2048;

/// The least and greatest bin exponent: `2^e` stays a normal `f32`.
const E_MIN: i32 = -100;
const E_MAX: i32 = 126;

/// Counts of values in bins `2^exp` wide, from bin `first` on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DyadicHistogram {
    /// The bin width's exponent.
    exp: i32,
    /// The index of the first bin (its lower edge is `first · 2^exp`).
    first: i64,
    /// One per bin from `first` on, at most [`BINS`]; none when nothing
    /// was counted.
    counts: Vec<u64>,
}

impl DyadicHistogram {
    /// Nothing counted.
    pub fn new() -> DyadicHistogram {
        DyadicHistogram::default()
    }

    /// How many values were counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Counts the values of `rows` (finite).
    pub fn add_rows(&mut self, rows: &[&[f32]]) {
        let (lo, hi) = rows
            .iter()
            .map(|r| range(r))
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), (l, h)| {
                (a.min(l), b.max(h))
            });
        if !(lo.is_finite() && hi.is_finite()) {
            return;
        }
        let exp = exponent_for(lo, hi);
        let first = index(lo, exp);
        let bins = (index(hi, exp) - first + 1) as usize;
        let part = DyadicHistogram {
            exp,
            first,
            counts: dyadic_counts(rows, exp, first, bins),
        };
        self.merge(&part);
    }

    /// Adds another part's counts: this becomes the histogram of both
    /// parts' values, at the least resolution that holds them all.
    pub fn merge(&mut self, other: &DyadicHistogram) {
        if other.counts.is_empty() {
            return;
        }
        if self.counts.is_empty() {
            *self = other.clone();
            return;
        }
        // The first and last bins at `exp` (each part's first and last
        // bins hold values).
        let last = |h: &DyadicHistogram| h.first + h.counts.len() as i64 - 1;
        let at = |i: i64, from: i32, to: i32| shift_down(i, to - from);
        let span = |exp: i32| {
            let l = at(self.first, self.exp, exp).min(at(other.first, other.exp, exp));
            let h = at(last(self), self.exp, exp).max(at(last(other), other.exp, exp));
            (l, h)
        };
        let mut exp = self.exp.max(other.exp);
        while {
            let (l, h) = span(exp);
            h - l + 1 > BINS as i64
        } {
            exp += 1;
        }
        let (l, h) = span(exp);
        let mut counts = vec![0u64; (h - l + 1) as usize];
        for part in [&*self, other] {
            let k = exp - part.exp;
            for (i, &n) in part.counts.iter().enumerate() {
                counts[(shift_down(part.first + i as i64, k) - l) as usize] += n;
            }
        }
        *self = DyadicHistogram {
            exp,
            first: l,
            counts,
        };
    }

    /// The threshold by the histogram `method` (`None` for a fixed value
    /// or the noise level, which this does not hold the data for, or
    /// nothing counted): a bin's edge, as for a frame's histogram.
    pub fn threshold(&self, method: Method) -> Option<f32> {
        if self.counts.is_empty() {
            return None;
        }
        let width = 2f64.powi(self.exp);
        let lo = (self.first as f64 * width) as f32;
        let hi = ((self.first + self.counts.len() as i64) as f64 * width) as f32;
        threshold_of_counts(&self.counts, lo, hi, method)
    }
}

/// The least bin exponent at which the values of `[lo, hi]` fall within
/// [`BINS`] bins, and the bin indices stay exact in an `f32` (below
/// 2^23 in magnitude; at least [`E_MIN`]). A function of `lo` and `hi`
/// alone, never smaller for a wider range: the exponent of a merge is
/// the one its values would have had counted at once.
fn exponent_for(lo: f32, hi: f32) -> i32 {
    let m = lo.abs().max(hi.abs());
    let exact = if m > 0.0 {
        f64::from(m).log2().floor() as i32 - 22
    } else {
        E_MIN
    };
    let mut exp = exact.max(E_MIN);
    if hi > lo {
        // Where the span is surely too wide: 2^e ≤ (hi − lo) / (BINS + 1).
        // (One lower, for the rounding of the logarithm.)
        let span = f64::from(hi) - f64::from(lo);
        let wide = (span / (BINS + 1) as f64).log2().floor() as i32 - 1;
        exp = exp.max(wide.clamp(E_MIN, E_MAX));
    }
    while exp < E_MAX && index(hi, exp) - index(lo, exp) + 1 > BINS as i64 {
        exp += 1;
    }
    exp
}

/// The bin of `v` at exponent `exp`: ⌊v · 2^−exp⌋ (exact: the product
/// by a power of two is).
fn index(v: f32, exp: i32) -> i64 {
    (v * scale(exp)).floor() as i64
}

/// 2^−exp as an `f32`, for `exp` in [`E_MIN`, `E_MAX`].
fn scale(exp: i32) -> f32 {
    f32::from_bits(((127 - exp.clamp(E_MIN, E_MAX)) as u32) << 23)
}

/// ⌊i / 2^k⌋ (`k` ≥ 0).
fn shift_down(i: i64, k: i32) -> i64 {
    i >> k.clamp(0, 63)
}

/// The counts of the values of `rows` in `bins` bins `2^exp` wide from bin
/// `first` (every value's bin within them). Compiled also for AVX2 and
/// AVX-512, chosen at run time (same counts).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
fn dyadic_counts(rows: &[&[f32]], exp: i32, first: i64, bins: usize) -> Vec<u64> {
    let s = scale(exp);
    // Both terms are integers below 2^23 in magnitude and their
    // difference is below `bins`: the subtraction is exact.
    let first = first as f32;
    let top = (bins.max(1) - 1) as f32;
    count_bins(rows, bins, |v| {
        let f = (v * s).floor() - first;
        let f = if f >= 0.0 { f } else { 0.0 };
        let f = if f < top { f } else { top };
        // SAFETY: f is finite and in [0, bins - 1] ⊂ [0, 2²⁴), so it is
        // representable as an i32.
        unsafe { f.to_int_unchecked::<i32>() }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::threshold::Histogram;

    /// The plain histogram: each value's bin at the exponent found by
    /// trying every one from the least.
    fn brute(values: &[f32]) -> DyadicHistogram {
        let lo = values.iter().cloned().fold(f32::INFINITY, f32::min);
        let hi = values.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let m = lo.abs().max(hi.abs());
        let exact = |e: i32| m == 0.0 || f64::from(m) * 2f64.powi(-e) < (1 << 23) as f64;
        let bin = |v: f32, e: i32| (f64::from(v) / 2f64.powi(e)).floor() as i64;
        let exp = (E_MIN..=E_MAX)
            .find(|&e| exact(e) && bin(hi, e) - bin(lo, e) < BINS as i64)
            .unwrap();
        let first = bin(lo, exp);
        let mut counts = vec![0u64; (bin(hi, exp) - first + 1) as usize];
        for &v in values {
            counts[(bin(v, exp) - first) as usize] += 1;
        }
        DyadicHistogram { exp, first, counts }
    }

    fn of(values: &[f32]) -> DyadicHistogram {
        let mut h = DyadicHistogram::new();
        h.add_rows(&[values]);
        h
    }

    /// A deterministic spread of values: `n` of them, `scale` wide from
    /// `offset`.
    fn values(n: usize, seed: u64, offset: f32, scale: f32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let u = (x >> 40) as f32 / (1u64 << 24) as f32;
                offset + scale * u * u
            })
            .collect()
    }

    #[test]
    fn counting_equals_the_plain_histogram() {
        for (offset, scale) in [
            (0.0, 1000.0),
            (-3.0, 7.5),
            (1e4, 0.01),
            (0.0, 1e-6),
            (-5e5, 1e6),
            (2.5, 0.0),
        ] {
            for n in [1, 3, 300, 5000] {
                let v = values(n, n as u64, offset, scale);
                let got = of(&v);
                assert_eq!(got, brute(&v), "{offset} + {scale}, n = {n}");
                assert_eq!(got.total(), n as u64);
                assert!(got.counts.len() <= BINS);
            }
        }
    }

    /// A hand-made case: 0, 1, 2, 3 fit in 2048 bins of 2^-9 (but not
    /// 2^-10: 3072 bins).
    #[test]
    fn exponent_by_hand() {
        let h = of(&[0.0, 1.0, 2.0, 3.0]);
        assert_eq!((h.exp, h.first, h.counts.len()), (-9, 0, 3 * 512 + 1));
        assert_eq!((h.counts[0], h.counts[512], h.counts[1536]), (1, 1, 1));
    }

    #[test]
    fn parts_merge_into_the_whole_in_any_order() {
        let dim = values(4000, 1, 0.0, 3.0);
        let bright = values(3000, 2, 10.0, 900.0);
        let negative = values(500, 3, -40.0, 20.0);
        let all: Vec<f32> = [&dim[..], &bright, &negative].concat();
        let whole = of(&all);
        assert_eq!(whole, brute(&all));
        let (a, b, c) = (of(&dim), of(&bright), of(&negative));
        for order in [[&a, &b, &c], [&c, &b, &a], [&b, &a, &c]] {
            let mut m = DyadicHistogram::new();
            for part in order {
                m.merge(part);
            }
            assert_eq!(m, whole);
        }
        // Rows added one at a time, and rows split anywhere.
        let mut by_rows = DyadicHistogram::new();
        for row in all.chunks(777) {
            by_rows.add_rows(&[row]);
        }
        assert_eq!(by_rows, whole);
        let rows: Vec<&[f32]> = all.chunks(1000).collect();
        let mut at_once = DyadicHistogram::new();
        at_once.add_rows(&rows);
        assert_eq!(at_once, whole);
    }

    /// The threshold of two levels falls between them, as the frame
    /// histogram's does.
    #[test]
    fn thresholds_split_two_levels_like_the_frame_histogram() {
        let mut v = vec![10.0f32; 900];
        v.extend(std::iter::repeat_n(200.0f32, 100));
        let h = of(&v);
        let mut frame = Histogram::new((10.0, 200.0));
        frame.add(&v);
        for m in [Method::Otsu, Method::Li, Method::Triangle] {
            let (t, f) = (h.threshold(m).unwrap(), frame.threshold(m).unwrap());
            assert!(t > 10.0 && t <= 200.0, "{m}: {t}");
            assert!(f > 10.0 && f <= 200.0, "{m}: {f}");
        }
        assert_eq!(h.threshold(Method::Fixed(3.0)), None);
        assert_eq!(DyadicHistogram::new().threshold(Method::Otsu), None);
    }

    #[test]
    fn empty_and_flat() {
        let mut h = DyadicHistogram::new();
        h.add_rows(&[&[]]);
        assert_eq!(h, DyadicHistogram::new());
        let flat = of(&[7.0; 10]);
        assert_eq!((flat.counts.len(), flat.total()), (1, 10));
        let zeros = of(&[0.0; 4]);
        assert_eq!((zeros.exp, zeros.counts.len()), (E_MIN, 1));
        // A flat part merged with a wide one.
        let mut m = zeros.clone();
        m.merge(&of(&[0.0, 1000.0]));
        assert_eq!(m, of(&[0.0, 0.0, 0.0, 0.0, 0.0, 1000.0]));
    }
}
