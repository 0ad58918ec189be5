//! Segmentation kernels: smoothing, automatic thresholds, binary
//! morphology and connected-component labelling.

pub mod background;
pub mod distance;
pub mod gaussian;
pub mod label;
pub mod morph;
pub mod threshold;
pub mod watershed;

pub use label::label;
pub use morph::{fill_holes, open};
pub use threshold::{mask_at_least, otsu_threshold};

use crate::{FloatImage, Sample};

/// Gaussian smoothing with σ in pixels; σ below 0.3 px leaves the image as
/// it is (the kernel would be a single tap).
pub fn smooth(img: &FloatImage, sigma_px: f64) -> FloatImage {
    smooth_samples(img.as_raw(), img.width(), img.height(), sigma_px)
}

/// [`smooth`] of a `w`×`h` plane of any [`Sample`] type (a raw 16-bit
/// channel is read as floats, exactly).
pub fn smooth_samples<T: Sample>(src: &[T], w: u32, h: u32, sigma_px: f64) -> FloatImage {
    smooth_samples_then(src, w, h, sigma_px, |_, _| {})
}

/// [`smooth_samples`], calling `post(y, made)` as each smoothed row is
/// made, in order (a step fused into the pass): `made` is the output's
/// rows `0..=y`, row y just made and last, the rows before it as earlier
/// calls left them.
pub fn smooth_samples_then<T: Sample>(
    src: &[T],
    w: u32,
    h: u32,
    sigma_px: f64,
    mut post: impl FnMut(usize, &mut [f32]),
) -> FloatImage {
    let n = w as usize * h as usize;
    // Written whole either way: a pooled buffer, whatever it held.
    let mut v = crate::pool::take::<f32>(n);
    if sigma_px < 0.3 || src.len() < n {
        v.fill(0.0);
        for (o, &x) in v.iter_mut().zip(src) {
            *o = x.to_f32();
        }
        if w > 0 {
            for y in 0..h as usize {
                post(y, &mut v[..(y + 1) * w as usize]);
            }
        }
    } else {
        gaussian::blur_rows(src, &mut v, w as usize, h as usize, sigma_px as f32, post);
    }
    FloatImage::from_raw(w, h, v).unwrap_or_else(|| FloatImage::new(w, h))
}

/// The indices of the samples of `data` at or above `t`, in order (NaN
/// never is). Blocks of 64 samples none of which is (most of a sparse
/// image) are passed over with one branch-free, vectorised test each
/// (`first_at_least`).
pub fn positions_at_least(data: &[f32], t: f32) -> impl Iterator<Item = usize> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || {
        let i = from + first_at_least(data.get(from..)?, t)?;
        from = i + 1;
        Some(i)
    })
}

/// The index of the first sample of `data` at or above `t`: blocks of 64
/// below it are passed over with one vectorised test each. Compiled also
/// for AVX2 and AVX-512, chosen at run time (comparisons: the same
/// result in every version).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
pub(crate) fn first_at_least(data: &[f32], t: f32) -> Option<usize> {
    // Scans of a whole plane from memory: asking for 16 KiB ahead made
    // the Sox9 seeds' scan a third faster.
    first_in_blocks::<_, true, false>(
        data,
        |b| b.iter().fold(false, |a, &v| a | (v >= t)),
        |v| v >= t,
    )
}

/// Each maximal run `[l, r)` of set (non-zero) bytes of `row` — or of
/// clear ones, when `set` is false — in order, to `run`: found a block
/// of bytes at a time ([`first_nonzero`], [`first_zero`]).
pub(crate) fn row_runs(row: &[u8], set: bool, mut run: impl FnMut(usize, usize)) {
    type Search = fn(&[u8]) -> Option<usize>;
    let (starts, ends): (Search, Search) = if set {
        (first_nonzero, first_zero)
    } else {
        (first_zero, first_nonzero)
    };
    let mut x = 0;
    while let Some(l) = row.get(x..).and_then(starts).map(|i| x + i) {
        let r = ends(&row[l..]).map_or(row.len(), |i| l + i);
        run(l, r);
        x = r;
    }
}

/// The index of the first non-zero byte of `data`: blocks of 64 zeros
/// (most of a mask) are passed over with one vectorised test each.
///
/// Compiled also for AVX2 and AVX-512, chosen at run time (the same
/// operations in the same order in every version: the same result).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
pub(crate) fn first_nonzero(data: &[u8]) -> Option<usize> {
    first_in_blocks::<_, false, true>(data, |b| b.iter().fold(0, |a, &v| a | v) != 0, |v| v != 0)
}

/// The index of the first zero byte of `data`, as [`first_nonzero`].
/// (One block test for both, or a min-of-bytes test here, measured ~2 ms
/// per field slower: each block test is written as it vectorises best.)
///
/// Compiled also for AVX2 and AVX-512, chosen at run time (the same
/// operations in the same order in every version: the same result).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
pub(crate) fn first_zero(data: &[u8]) -> Option<usize> {
    first_in_blocks::<_, false, true>(
        data,
        |b| b.iter().fold(false, |a, &v| a | (v == 0)),
        |v| v == 0,
    )
}

/// The index of the first element of `data` that `hit` accepts, passing
/// over blocks of 64 that `any_in` (which must agree with `hit`) finds
/// none in with one test each; with `AHEAD`, asking for the data 16 KiB
/// ahead as it goes; with `BITS`, finding the hit in its block from a
/// bit mask of the block (for bytes; for floats LLVM built the mask
/// slower than the search). Inlined into each caller, so the block test
/// is compiled for the caller's instruction set.
#[inline(always)]
fn first_in_blocks<T: Copy, const AHEAD: bool, const BITS: bool>(
    data: &[T],
    any_in: impl Fn(&[T]) -> bool,
    hit: impl Fn(T) -> bool,
) -> Option<usize> {
    const B: usize = 64;
    let mut blocks = data.chunks_exact(B);
    let mut at = 0;
    // A block's lines: its bytes over 64.
    let size = std::mem::size_of::<T>().clamp(1, B);
    let ahead = (16 << 10) / size;
    for block in &mut blocks {
        if AHEAD {
            for line in 0..size {
                crate::cache::prefetch(data, at + ahead + line * (B / size));
            }
        }
        if any_in(block) {
            if BITS {
                // A bit a sample, from one compare a vector (bytes: the
                // sample-at-a-time search cost more than the skipping).
                let bits = block
                    .iter()
                    .enumerate()
                    .fold(0u64, |m, (i, &v)| m | (u64::from(hit(v)) << i));
                return Some(at + bits.trailing_zeros() as usize);
            }
            return block.iter().position(|&v| hit(v)).map(|i| at + i);
        }
        at += B;
    }
    blocks
        .remainder()
        .iter()
        .position(|&v| hit(v))
        .map(|i| at + i)
}

/// Scan-line flood fill of the set (non-zero) bytes of a `w`-wide byte
/// image: from the (row, column) pixels on `stack`, every set pixel
/// 8-connected to them through set pixels is cleared, a whole run at a
/// time; `run(y, l, r)` is called with each run `[l, r)` of row y so
/// cleared. Only the rows above and below a run are searched (one pixel
/// further each side), one seed per run found there. `stack` is scratch
/// and left empty.
pub(crate) fn scan_fill(
    data: &mut [u8],
    w: usize,
    stack: &mut Vec<(usize, usize)>,
    mut run: impl FnMut(usize, usize, usize),
) {
    let h = data.len() / w.max(1);
    while let Some((y, x)) = stack.pop() {
        let row = &mut data[y * w..(y + 1) * w];
        if row[x] == 0 {
            continue;
        }
        let l = row[..x].iter().rposition(|&v| v == 0).map_or(0, |i| i + 1);
        let r = row[x..].iter().position(|&v| v == 0).map_or(w, |i| x + i);
        row[l..r].fill(0);
        run(y, l, r);
        let (a, b) = (l.saturating_sub(1), (r + 1).min(w));
        for ny in [y.wrapping_sub(1), y + 1] {
            if ny >= h {
                continue;
            }
            let near = &data[ny * w + a..ny * w + b];
            let mut i = 0;
            while let Some(j) = near[i..].iter().position(|&v| v != 0) {
                stack.push((ny, a + i + j));
                i += j;
                match near[i..].iter().position(|&v| v == 0) {
                    Some(k) => i += k,
                    None => break,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{first_nonzero, first_zero, positions_at_least};

    #[test]
    fn first_nonzero_and_first_zero_equal_position() {
        let mut rng = crate::synth::Rng::new(43);
        for n in [0usize, 1, 63, 64, 65, 128, 200, 1000] {
            for p in [0.0, 0.005, 0.3, 0.995, 1.0] {
                // Set bytes of any value, not only 255.
                let v: Vec<u8> = (0..n)
                    .map(|_| u8::from(rng.unit() < p) * (1 + (rng.unit() * 254.0) as u8))
                    .collect();
                assert_eq!(
                    first_nonzero(&v),
                    v.iter().position(|&b| b != 0),
                    "n {n} p {p}"
                );
                assert_eq!(
                    first_zero(&v),
                    v.iter().position(|&b| b == 0),
                    "n {n} p {p}"
                );
            }
        }
    }

    #[test]
    fn positions_equal_filtering_every_index() {
        // Hits at block edges (0, 63, 64, 127), inside a block, in the
        // short last block, and long empty stretches between; NaN never.
        let mut v = vec![0f32; 300];
        for i in [0, 63, 64, 127, 200, 257, 299] {
            v[i] = 1.0;
        }
        v[100] = f32::NAN;
        let got: Vec<usize> = positions_at_least(&v, 0.5).collect();
        assert_eq!(got, vec![0, 63, 64, 127, 200, 257, 299]);
        let mut rng = crate::synth::Rng::new(5);
        for n in [0usize, 1, 63, 64, 65, 1000] {
            let f: Vec<f32> = (0..n).map(|_| rng.unit() as f32).collect();
            for t in [0.0, 0.5, 0.97, 2.0] {
                let want: Vec<usize> = (0..f.len()).filter(|&i| f[i] >= t).collect();
                assert_eq!(
                    positions_at_least(&f, t).collect::<Vec<_>>(),
                    want,
                    "n {n} t {t}"
                );
            }
        }
    }
}
