//! Searches over rows and planes that pass over empty stretches a block
//! of 64 samples at a time: thresholded positions, runs of set bytes.

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
    first_in_blocks(
        data,
        SCAN_AHEAD,
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
    first_in_blocks(
        data,
        LOCATE_BY_MASK,
        |b| b.iter().fold(0, |a, &v| a | v) != 0,
        |v| v != 0,
    )
}

/// The index of the first zero byte of `data`, as [`first_nonzero`].
/// (One block test for both, or a min-of-bytes test here, measured ~2 ms
/// per field slower: each block test is written as it vectorises best.)
///
/// Compiled also for AVX2 and AVX-512, chosen at run time (the same
/// operations in the same order in every version: the same result).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
pub(crate) fn first_zero(data: &[u8]) -> Option<usize> {
    first_in_blocks(
        data,
        LOCATE_BY_MASK,
        |b| b.iter().fold(false, |a, &v| a | (v == 0)),
        |v| v == 0,
    )
}

/// How [`first_in_blocks`] goes through the blocks.
#[derive(Clone, Copy)]
struct BlockSearch {
    /// Ask for the data 16 KiB ahead while searching (a scan of a whole
    /// plane from memory).
    prefetch_ahead: bool,
    /// Find the hit in its block from a bit mask of the block (for
    /// bytes; for floats LLVM built the mask slower than the search).
    locate_by_mask: bool,
}

/// A scan of a whole float plane from memory.
const SCAN_AHEAD: BlockSearch = BlockSearch {
    prefetch_ahead: true,
    locate_by_mask: false,
};

/// A search along a row of bytes in cache.
const LOCATE_BY_MASK: BlockSearch = BlockSearch {
    prefetch_ahead: false,
    locate_by_mask: true,
};

/// The index of the first element of `data` that `hit` accepts, passing
/// over blocks of 64 that `any_in` (which must agree with `hit`) finds
/// none in with one test each, the way `how` says. Inlined into each
/// caller, so the block test is compiled for the caller's instruction
/// set and `how` is a constant there.
#[inline(always)]
fn first_in_blocks<T: Copy>(
    data: &[T],
    how: BlockSearch,
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
        if how.prefetch_ahead {
            for line in 0..size {
                crate::cache::prefetch(data, at + ahead + line * (B / size));
            }
        }
        if any_in(block) {
            if how.locate_by_mask {
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
