//! Automatic global thresholds, on a 1024-bin histogram of a smoothed,
//! corrected channel (values in the channel's units): Otsu (N. Otsu, "A
//! threshold selection method from gray-level histograms", IEEE Trans.
//! SMC 9, 1979), Li's minimum cross-entropy (C. H. Li & C. K. Lee, Pattern
//! Recognition 26, 1993; iterative form of C. H. Li & P. K. S. Tam,
//! Pattern Recognition Letters 19, 1998, as scikit-image's
//! `threshold_li`), Zack's triangle (G. W. Zack et al., J. Histochem.
//! Cytochem. 25, 1977), a robust noise level (median + K × 1.4826 × MAD)
//! or a fixed value.

use image::GrayImage;

use crate::FloatImage;

/// Histogram resolution for float data: fine enough for 12/16-bit images.
const BINS: usize = 1024;

/// Otsu's method (Otsu 1979) on a histogram: the bin `k` maximising the between-class
/// variance of `[0..=k]` (background) and `[k+1..]` (foreground). The first
/// maximum wins; `None` when all counts sit in one bin.
fn otsu_bin(hist: &[u64]) -> Option<usize> {
    let total: u64 = hist.iter().sum();
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &h)| i as f64 * h as f64)
        .sum();
    let (mut w0, mut sum0) = (0u64, 0f64);
    let mut best: Option<(usize, f64)> = None;
    for (k, &h) in hist.iter().enumerate() {
        w0 += h;
        sum0 += k as f64 * h as f64;
        let w1 = total - w0;
        if w0 == 0 || w1 == 0 {
            continue;
        }
        let m0 = sum0 / w0 as f64;
        let m1 = (sum_all - sum0) / w1 as f64;
        let between = w0 as f64 * w1 as f64 * (m0 - m1) * (m0 - m1);
        if best.is_none_or(|(_, b)| between > b) {
            best = Some((k, between));
        }
    }
    best.map(|(k, _)| k)
}

/// The least and greatest value of `data` (NaN passed over; +∞ and −∞
/// when there is none): the span of a histogram, for steps that make
/// the data to find as they write it. Compiled also for AVX2 and AVX-512,
/// chosen at run time (extremes are exact).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
pub(crate) fn range(data: &[f32]) -> (f32, f32) {
    // 64 running extremes (the compiler vectorises them: four independent
    // 16-lane minima and maxima with AVX-512, so no step waits for the one
    // before), folded. 0.047 ns a value on a row in cache, against 0.17
    // with eight (one 8-lane chain) and 0.59 with sixteen (LLVM shuffled
    // the lanes), as with comparisons and selects (three times slower).
    const LANES: usize = 64;
    let (mut los, mut his) = ([f32::INFINITY; LANES], [f32::NEG_INFINITY; LANES]);
    let mut chunks = data.chunks_exact(LANES);
    for c in &mut chunks {
        for k in 0..LANES {
            los[k] = los[k].min(c[k]);
            his[k] = his[k].max(c[k]);
        }
    }
    for (k, &v) in chunks.remainder().iter().enumerate() {
        los[k] = los[k].min(v);
        his[k] = his[k].max(v);
    }
    let lo = los.iter().cloned().fold(f32::INFINITY, f32::min);
    let hi = his.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    (lo, hi)
}

/// The histogram counts of the data in `rows` (one slice, or a block's
/// rows), whose [`range`] is already known to be `[lo, hi]`, with one
/// set of working histograms for all of them. Compiled also for AVX2 and
/// AVX-512, chosen at run time (same counts).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
fn histogram_of_rows(rows: &[&[f32]], bins: usize, lo: f32, hi: f32) -> Vec<u64> {
    let bins = bins.clamp(1, 1 << 24);
    let mut hist = vec![0u64; bins];
    // Empty or flat data (NaN-free by construction of the loader).
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        if let Some(first) = hist.first_mut() {
            *first = rows.iter().map(|r| r.len() as u64).sum();
        }
        return hist;
    }
    let scale = bins as f32 / (hi - lo);
    // v ≥ lo, so the product is in [0, bins]; clamped to [0, bins - 1] in
    // floating point (NaN to 0) and truncated, the bin is the same as the
    // integer clamp of the truncation, and the conversion vectorises.
    let top = (bins - 1) as f32;
    let bin_f = |v: f32| -> i32 {
        let f = (v - lo) * scale;
        let f = if f >= 0.0 { f } else { 0.0 };
        let f = if f < top { f } else { top };
        // SAFETY: f is finite and in [0, bins - 1] ⊂ [0, 2²⁴), so it is
        // representable as an i32.
        unsafe { f.to_int_unchecked::<i32>() }
    };
    count_bins(rows, bins, bin_f)
}

/// The histogram counts of the data in `rows` into `bins` bins, the bin
/// of a value being `bin_f` of it (in `[0, bins - 1]`). Inlined into each
/// binning's kernel, so it is compiled for the kernel's instruction set.
#[inline(always)]
pub(super) fn count_bins(rows: &[&[f32]], bins: usize, bin_f: impl Fn(f32) -> i32) -> Vec<u64> {
    let bins = bins.max(1);
    let mut hist = vec![0u64; bins];
    let top = (bins - 1).min(i32::MAX as usize) as i32;
    let bin = |v: f32| bin_f(v).clamp(0, top) as usize;
    // Bin indices a block at a time (a vectorised loop), then counted into
    // four interleaved histograms: neighbouring pixels often fall in the
    // same bin, and one histogram would make each increment wait for the
    // previous one.
    let mut part = vec![[0u32; 4]; bins];
    let mut idx = [0i32; 256];
    let mut since_flush = 0u32;
    for data in rows {
        let mut chunks = data.chunks_exact(idx.len());
        // The samples 16 KiB ahead are asked for a block at a time: the
        // plane comes from memory, and the prefetcher alone left the loop
        // waiting (a quarter of its time in a field's analysis).
        for (b, c) in (&mut chunks).enumerate() {
            let ahead = (b + 16) * idx.len();
            crate::cache::prefetch_range(data, ahead, ahead + idx.len());
            for (i, &v) in idx.iter_mut().zip(c) {
                *i = bin_f(v).clamp(0, top);
            }
            for q in idx.chunks_exact(4) {
                // SAFETY: each index was clamped to [0, bins - 1] and `part`
                // has `bins` entries. (Checked indexing costs a compare and a branch per
                // count.)
                unsafe {
                    part.get_unchecked_mut(q[0] as usize)[0] += 1;
                    part.get_unchecked_mut(q[1] as usize)[1] += 1;
                    part.get_unchecked_mut(q[2] as usize)[2] += 1;
                    part.get_unchecked_mut(q[3] as usize)[3] += 1;
                }
            }
            since_flush += 1;
            if since_flush == u32::MAX / 64 {
                for (h, p) in hist.iter_mut().zip(part.iter_mut()) {
                    *h += p.iter().map(|&x| u64::from(x)).sum::<u64>();
                    *p = [0; 4];
                }
                since_flush = 0;
            }
        }
        for &v in chunks.remainder() {
            hist[bin(v)] += 1;
        }
    }
    for (h, p) in hist.iter_mut().zip(&part) {
        *h += p.iter().map(|&x| u64::from(x)).sum::<u64>();
    }
    hist
}

/// The lower edge of the bin after `k` of a `bins`-bin histogram of
/// `[lo, hi]`: the threshold value of a histogram method; `+∞` for no bin
/// or flat data.
fn value_after_bin(k: Option<usize>, lo: f32, hi: f32, bins: usize) -> f32 {
    match k {
        Some(k) if hi > lo => lo + (k + 1) as f32 * ((hi - lo) / bins as f32),
        _ => f32::INFINITY,
    }
}

/// The threshold by a histogram `method` of the `counts` of bins of one
/// width spanning `[lo, hi]` (`None` for a fixed value or the noise
/// level, which a histogram does not hold the data for).
pub(super) fn threshold_of_counts(counts: &[u64], lo: f32, hi: f32, method: Method) -> Option<f32> {
    let bins = counts.len();
    match method {
        Method::Otsu => Some(value_after_bin(otsu_bin(counts), lo, hi, bins)),
        Method::Li => Some(li_threshold_hist(counts, lo, hi)),
        // A left tail (bright background, dark objects) does not occur
        // for fluorescence; treat it like a right one.
        Method::Triangle => Some(value_after_bin(
            triangle_bin(counts).map(|(k, _)| k),
            lo,
            hi,
            bins,
        )),
        Method::Fixed(_) | Method::Noise(_) => None,
    }
}

/// Li's minimum cross-entropy threshold (Li & Lee 1993; the iteration
/// of Li & Tam 1998), iterated on the histogram of
/// `[lo, hi]` (values shifted to be positive when they are not). Returns
/// the threshold as a value; pixels `>=` it are foreground.
fn li_threshold_hist(hist: &[u64], lo: f32, hi: f32) -> f32 {
    let bins = hist.len();
    if bins == 0 || hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return f32::INFINITY;
    }
    let width = f64::from(hi - lo) / bins as f64;
    // Bin centres; non-positive data is shifted to start one bin above 0.
    let shift = if lo > 0.0 { 0.0 } else { width - f64::from(lo) };
    let centre = |i: usize| f64::from(lo) + (i as f64 + 0.5) * width + shift;
    let total: u64 = hist.iter().sum();
    let mean: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &h)| centre(i) * h as f64)
        .sum::<f64>()
        / total.max(1) as f64;
    let mut t = mean;
    for _ in 0..1000 {
        let (mut nb, mut sb, mut nf, mut sf) = (0f64, 0f64, 0f64, 0f64);
        for (i, &h) in hist.iter().enumerate() {
            let c = centre(i);
            if c <= t {
                nb += h as f64;
                sb += c * h as f64;
            } else {
                nf += h as f64;
                sf += c * h as f64;
            }
        }
        if nb == 0.0 || nf == 0.0 {
            break;
        }
        let (mb, mf) = (sb / nb, sf / nf);
        let next = (mb - mf) / (mb.ln() - mf.ln());
        if (next - t).abs() < width / 2.0 {
            t = next;
            break;
        }
        t = next;
    }
    (t - shift) as f32
}

/// Zack's triangle threshold (Zack, Rogers & Latt 1977): the bin farthest below the line from the
/// histogram's peak to the far end of its longer tail. Returns `(k,
/// tail_right)`: foreground is bins `> k` when the tail is to the right,
/// `< k` otherwise. `None` for an empty or single-bin histogram.
fn triangle_bin(hist: &[u64]) -> Option<(usize, bool)> {
    let first = hist.iter().position(|&h| h > 0)?;
    let last = hist.iter().rposition(|&h| h > 0)?;
    if first == last {
        return None;
    }
    let peak = (first..=last).max_by(|&a, &b| hist[a].cmp(&hist[b]).then(b.cmp(&a)))?;
    let tail_right = last - peak >= peak - first;
    let end = if tail_right { last } else { first };
    let (x0, y0, x1, y1) = (peak as f64, hist[peak] as f64, end as f64, hist[end] as f64);
    let (lo, hi) = if tail_right { (peak, end) } else { (end, peak) };
    let mut best = (peak, f64::NEG_INFINITY);
    for (k, &hk) in hist.iter().enumerate().take(hi + 1).skip(lo) {
        let line = y0 + (y1 - y0) * (k as f64 - x0) / (x1 - x0);
        let d = line - hk as f64;
        if d > best.1 {
            best = (k, d);
        }
    }
    Some((best.0, tail_right))
}

/// A threshold method, per channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// Otsu's between-class variance.
    Otsu,
    /// Li's minimum cross entropy.
    Li,
    /// Zack's triangle (good for a dominant background and a weak tail).
    Triangle,
    /// `k` robust standard deviations (1.4826 × median absolute
    /// deviation) above the median: for a background-corrected channel
    /// where background dominates, "clearly above the noise", however
    /// bright the brightest objects are. Written `noise` (k = 6) or
    /// `noise:K`.
    Noise(f32),
    /// A fixed value in the channel's (background-corrected) units.
    Fixed(f32),
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "otsu" => Ok(Method::Otsu),
            "li" => Ok(Method::Li),
            "triangle" => Ok(Method::Triangle),
            "noise" => Ok(Method::Noise(6.0)),
            other if other.starts_with("noise:") => other[6..]
                .parse::<f32>()
                .ok()
                .filter(|k| k.is_finite() && *k > 0.0)
                .map(Method::Noise)
                .ok_or_else(|| format!("bad noise factor in `{s}` (e.g. noise:6)")),
            other => other
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .map(Method::Fixed)
                .ok_or_else(|| {
                    format!("unknown threshold `{s}` (otsu, li, triangle, noise[:K] or a number)")
                }),
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Method::Otsu => f.write_str("otsu"),
            Method::Li => f.write_str("li"),
            Method::Triangle => f.write_str("triangle"),
            Method::Noise(k) => write!(f, "noise:{k}"),
            Method::Fixed(v) => write!(f, "{v}"),
        }
    }
}

impl serde::Serialize for Method {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Method {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            N(f64),
        }
        match Raw::deserialize(d)? {
            Raw::S(s) => s.parse().map_err(serde::de::Error::custom),
            Raw::N(v) => Ok(Method::Fixed(v as f32)),
        }
    }
}

/// The threshold value of `img` by `method`; pixels `>=` it are foreground.
pub fn threshold(img: &FloatImage, method: Method) -> f32 {
    match method {
        // (Neither reads the range.)
        Method::Fixed(_) | Method::Noise(_) => threshold_in(img, method, (0.0, 0.0)),
        _ => threshold_in(img, method, range(img.as_raw())),
    }
}

/// [`threshold`] of an image whose [`range`] is already known (found by
/// the step that made it).
pub(crate) fn threshold_in(img: &FloatImage, method: Method, (lo, hi): (f32, f32)) -> f32 {
    match method {
        Method::Fixed(v) => v,
        Method::Noise(k) => {
            let (median, mad) = median_mad(img.as_raw());
            median + k * 1.4826 * mad
        }
        _ => {
            let mut h = Histogram::new((lo, hi));
            h.add(img.as_raw());
            h.threshold(method).unwrap_or(f32::INFINITY)
        }
    }
}

/// The histogram a histogram method ([`Method::Otsu`], [`Method::Li`],
/// [`Method::Triangle`]) reads: [`BINS`] bins over a range known
/// beforehand, filled a part of the data at a time (the counts are
/// integers, so the parts' order does not matter: a plane analysed in
/// blocks gets the whole plane's threshold).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
    lo: f32,
    hi: f32,
}

impl Histogram {
    /// No value counted yet, over the data's `(least, greatest)` value.
    pub(crate) fn new((lo, hi): (f32, f32)) -> Histogram {
        Histogram {
            counts: vec![0; BINS],
            lo,
            hi,
        }
    }

    /// Counts `data` (every value within the range).
    pub(crate) fn add(&mut self, data: &[f32]) {
        self.add_rows(&[data]);
    }

    /// Counts every slice of `rows` (a block's rows within its core),
    /// with one set of working histograms for all of them.
    pub(crate) fn add_rows(&mut self, rows: &[&[f32]]) {
        let part = histogram_of_rows(rows, BINS, self.lo, self.hi);
        for (c, p) in self.counts.iter_mut().zip(part) {
            *c += p;
        }
    }

    /// Adds the counts of another part (over the same range).
    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (c, &p) in self.counts.iter_mut().zip(&other.counts) {
            *c += p;
        }
    }

    /// The threshold by a histogram `method` (`None` for a fixed value or
    /// the noise level, which this does not hold the data for).
    pub(crate) fn threshold(&self, method: Method) -> Option<f32> {
        threshold_of_counts(&self.counts, self.lo, self.hi, method)
    }
}

/// Median and median absolute deviation (exact, by selection).
fn median_mad(data: &[f32]) -> (f32, f32) {
    if data.is_empty() {
        return (0.0, 0.0);
    }
    let mut v: Vec<f32> = data.to_vec();
    let mid = v.len() / 2;
    let median = *v.select_nth_unstable_by(mid, f32::total_cmp).1;
    for x in v.iter_mut() {
        *x = (*x - median).abs();
    }
    let mad = *v.select_nth_unstable_by(mid, f32::total_cmp).1;
    (median, mad)
}

/// Binary mask (255 = foreground) of pixels `>= t`.
pub fn mask_at_least(img: &FloatImage, t: f32) -> GrayImage {
    let (w, h) = img.dimensions();
    let mut data = crate::pool::take::<u8>(img.as_raw().len());
    at_least(&mut data, img.as_raw(), t);
    GrayImage::from_raw(w, h, data).unwrap_or_else(|| GrayImage::new(w, h))
}

/// `mask[i] = 255` where `data[i] >= t`, else 0. Compiled also for AVX2
/// and AVX-512, chosen at run time (same bytes).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
fn at_least(mask: &mut [u8], data: &[f32], t: f32) {
    for (m, &v) in mask.iter_mut().zip(data) {
        *m = if v >= t { 255 } else { 0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    /// Histogram of `data` over `[min, max]` in `bins` bins, with min and max.
    /// `bins` is clamped to 1..=2²⁴ (every bin edge exact in f32).
    fn histogram(data: &[f32], bins: usize) -> (Vec<u64>, f32, f32) {
        let (lo, hi) = range(data);
        (histogram_of_rows(&[data], bins, lo, hi), lo, hi)
    }

    #[test]
    fn otsu_on_hand_made_histogram() {
        // Two clean modes: 0..=2 and 7..=9. Any k in 2..=6 separates them
        // perfectly; Otsu's first maximum is k = 2.
        let hist = [10, 20, 10, 0, 0, 0, 0, 5, 10, 5];
        assert_eq!(otsu_bin(&hist), Some(2));
        // Unequal, overlapping modes: worked by hand, the between-class
        // variance w0·w1·(m0−m1)² peaks at k = 3
        // (w0=60, m0=1.1667, w1=25, m1=6 → 35 041.7; k=2: 32 781.1; k=4: 31 040.4).
        let hist = [10, 20, 20, 10, 5, 5, 5, 5, 5, 0];
        assert_eq!(otsu_bin(&hist), Some(3));
        assert_eq!(otsu_bin(&[0, 7, 0]), None);
        assert_eq!(otsu_bin(&[]), None);
    }

    #[test]
    fn otsu_threshold_splits_two_levels() {
        let img = FloatImage::from_fn(10, 10, |x, _| Luma([if x < 7 { 100.0 } else { 1000.0 }]));
        let t = threshold(&img, Method::Otsu);
        assert!(t > 100.0 && t <= 1000.0, "{t}");
        let m = mask_at_least(&img, t);
        assert_eq!(m.pixels().filter(|p| p[0] == 255).count(), 30);
        let flat = FloatImage::from_pixel(4, 4, Luma([5.0]));
        assert_eq!(threshold(&flat, Method::Otsu), f32::INFINITY);
    }

    #[test]
    fn triangle_on_hand_made_histogram() {
        // Line from (0,100) to (6,1): 100 − 16.5·k. Gaps below it:
        // k=1: 63.5, k=2: 62, k=3: 46.5 → the knee is bin 1.
        assert_eq!(triangle_bin(&[100, 20, 5, 4, 3, 2, 1]), Some((1, true)));
        // Mirrored: the tail is on the left.
        assert_eq!(triangle_bin(&[1, 2, 3, 4, 5, 20, 100]), Some((5, false)));
        assert_eq!(triangle_bin(&[0, 9, 0]), None);
    }

    #[test]
    fn li_on_two_spikes() {
        // 50 pixels at 10 and 50 at 100: Li converges to
        // (10 − 100) / (ln 10 − ln 100) = 39.09 in one step.
        let mut v = vec![10.0f32; 50];
        v.extend(vec![100.0f32; 50]);
        let img = FloatImage::from_raw(100, 1, v).unwrap();
        let t = threshold(&img, Method::Li);
        assert!((t - 39.09).abs() < 1.0, "{t}");
        assert!(t > 10.0 && t < 100.0);
    }

    #[test]
    fn methods_parse_and_fixed_is_fixed() {
        assert_eq!("Li".parse::<Method>(), Ok(Method::Li));
        assert_eq!("200".parse::<Method>(), Ok(Method::Fixed(200.0)));
        assert_eq!("noise".parse::<Method>(), Ok(Method::Noise(6.0)));
        assert_eq!("noise:3.5".parse::<Method>(), Ok(Method::Noise(3.5)));
        assert!("noise:-1".parse::<Method>().is_err());
        assert!("median".parse::<Method>().is_err());
        let img = FloatImage::from_fn(10, 1, |x, _| Luma([x as f32]));
        assert_eq!(threshold(&img, Method::Fixed(3.5)), 3.5);
        let otsu = threshold(&img, Method::Otsu);
        assert!(otsu > 0.0 && otsu <= 9.0);
    }

    #[test]
    fn noise_threshold_by_hand() {
        // Median 5, absolute deviations 5,4,3,2,1,0,1,2,3,4,5 → MAD 3.
        let img = FloatImage::from_raw(11, 1, (0..11).map(|v| v as f32).collect()).unwrap();
        assert_eq!(median_mad(img.as_raw()), (5.0, 3.0));
        let t = threshold(&img, Method::Noise(2.0));
        assert!((t - (5.0 + 2.0 * 1.4826 * 3.0)).abs() < 1e-4);
    }

    #[test]
    fn histogram_equals_counting_one_by_one() {
        let mut rng = crate::synth::Rng::new(5);
        for n in [0usize, 1, 3, 4, 7, 9, 1000, 4099] {
            // Runs of equal values, as in images.
            let data: Vec<f32> = (0..n)
                .map(|i| ((i / 5) as f32 * 0.37 + rng.unit() as f32).floor())
                .collect();
            let (h, lo, hi) = histogram(&data, 16);
            assert_eq!(h.iter().sum::<u64>(), n as u64);
            // Given the range, the counts alone are the same.
            assert_eq!((lo, hi), range(&data));
            assert_eq!(histogram_of_rows(&[&data], 16, lo, hi), h);
            // Cut into rows of any lengths, the same counts.
            for cut in [1usize, 5, 300] {
                let rows: Vec<&[f32]> = data.chunks(cut).collect();
                assert_eq!(histogram_of_rows(&rows, 16, lo, hi), h, "rows of {cut}");
            }
            if n > 1 {
                let img = FloatImage::from_raw(n as u32, 1, data.clone()).unwrap();
                for m in [Method::Otsu, Method::Li, Method::Triangle] {
                    let t = threshold(&img, m);
                    assert_eq!(threshold_in(&img, m, (lo, hi)).to_bits(), t.to_bits());
                }
            }
            if n == 0 {
                continue;
            }
            let lo_want = data.iter().cloned().fold(f32::INFINITY, f32::min);
            let hi_want = data.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            assert_eq!((lo, hi), (lo_want, hi_want));
            if hi > lo {
                let mut want = vec![0u64; 16];
                for &v in &data {
                    want[(((v - lo) * (16.0 / (hi - lo))) as usize).min(15)] += 1;
                }
                assert_eq!(h, want, "n {n}");
            }
        }
    }

    /// NaN is passed over wherever it sits (first, in a vector lane, in
    /// the tail); all-NaN and empty data have no extremes.
    #[test]
    fn range_passes_over_nan() {
        for n in [1usize, 15, 16, 17, 40, 63, 64, 65, 130, 200] {
            for at in [0, n / 2, n - 1] {
                // Extremes anywhere: in the first block, the last, the tail.
                let mut data: Vec<f32> = (0..n).map(|i| ((i * 37) % n) as f32 - 3.0).collect();
                data[at] = f32::NAN;
                let want = data
                    .iter()
                    .filter(|v| !v.is_nan())
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
                        (l.min(v), h.max(v))
                    });
                assert_eq!(range(&data), want, "n {n} NaN at {at}");
            }
            let nan = vec![f32::NAN; n];
            assert_eq!(range(&nan), (f32::INFINITY, f32::NEG_INFINITY));
        }
        assert_eq!(range(&[]), (f32::INFINITY, f32::NEG_INFINITY));
    }

    #[test]
    fn histogram_bounds() {
        let (h, lo, hi) = histogram(&[0.0, 1.0, 2.0, 3.0], 4);
        assert_eq!((lo, hi), (0.0, 3.0));
        assert_eq!(h, vec![1, 1, 1, 1]);
        // Non-finite values and odd bin counts stay in range.
        for data in [
            vec![0.0, f32::NAN, 1.0, f32::INFINITY],
            vec![f32::NEG_INFINITY, 2.0, 3.0],
            vec![-1e30, 1e30, 0.0],
        ] {
            for bins in [0, 1, 5] {
                let (h, _, _) = histogram(&data, bins);
                assert_eq!(h.len(), bins.max(1));
                assert_eq!(h.iter().sum::<u64>(), data.len() as u64, "{data:?} {bins}");
            }
        }
    }
}
