//! White top-hat: an image minus its grey-level opening by a square
//! (Serra 1982; the flat-structuring-element cousin of ImageJ's rolling
//! ball, Sternberg 1983): removes every bright structure narrower than
//! the square and keeps the rest, whatever the shape of the background.
//!
//! The opening is separable (erosion then dilation along x and along y),
//! each pass a running extreme by van Herk (1992) / Gil & Werman (1993):
//! three comparisons per sample whatever the radius. `TopHatRows`
//! streams it row by row as an image is made, with ≈ 4 (2r + 1) rows of
//! scratch; the plain whole-image opening is the tests' reference.

use super::threshold::range;
use crate::FloatImage;

/// The larger (`max`) or smaller of two samples, by a plain comparison:
/// one instruction per lane (the planes hold no NaN).
#[inline(always)]
fn extreme(max: bool, a: f32, b: f32) -> f32 {
    if max {
        if a > b {
            a
        } else {
            b
        }
    } else if a < b {
        a
    } else {
        b
    }
}

/// The sample [`extreme`] never picks over another: −∞ for maxima, +∞
/// for minima.
#[inline(always)]
fn neutral(max: bool) -> f32 {
    if max {
        f32::NEG_INFINITY
    } else {
        f32::INFINITY
    }
}

/// The running minimum (`max = false`) or maximum over the window of
/// rows `[y - r, y + r]` (clamped) of a strip of `sw` columns, fed one
/// row at a time, each result row known as soon as the row r further
/// down is in: van Herk / Gil-Werman, three comparisons per sample
/// whatever `r`. The rows, padded with r neutral rows each end, fall in
/// blocks of k = 2r + 1; every window is one block's suffix extreme
/// against the next block's prefix extreme. Only the current block's
/// rows (turned into suffix extremes, in place, once the block is
/// complete), the last complete block's suffixes and one running prefix
/// are kept: ≈ 2k rows of the strip, which stay in cache, where a whole
/// strip's prefixes and an intermediate strip would not.
///
/// A row goes in by [`push`](Self::push) (copied from a slice) or by
/// writing [`slot`](Self::slot) and calling [`advance`](Self::advance);
/// either says which result row, if any, is now known, and
/// [`result_into`](Self::result_into) writes it.
struct WindowRows {
    r: usize,
    sw: usize,
    max: bool,
    /// Padded rows taken in so far.
    fed: usize,
    /// The current block's prefix extreme up to the last row taken in.
    prefix: Vec<f32>,
    /// The current block's rows (k × sw).
    block: Vec<f32>,
    /// The last complete block's suffix extremes (k × sw).
    suffix: Vec<f32>,
}

impl Drop for WindowRows {
    fn drop(&mut self) {
        crate::pool::give(std::mem::take(&mut self.block));
        crate::pool::give(std::mem::take(&mut self.suffix));
    }
}

impl WindowRows {
    fn new() -> WindowRows {
        WindowRows {
            r: 0,
            sw: 0,
            max: false,
            fed: 0,
            prefix: Vec::new(),
            block: Vec::new(),
            suffix: Vec::new(),
        }
    }

    /// Starts a strip `sw` wide, window radius `r`, with the r leading
    /// neutral rows taken in (no result comes of them).
    #[inline(always)]
    fn start(&mut self, sw: usize, r: usize, max: bool) {
        let k = 2 * r + 1;
        (self.r, self.sw, self.max, self.fed) = (r, sw, max, 0);
        for v in [&mut self.block, &mut self.suffix] {
            // Blocks of a wide image are large: from the thread's pool
            // (handed back on drop), not faulted in afresh for each image.
            if v.capacity() < k * sw {
                crate::pool::give(std::mem::take(v));
                *v = crate::pool::take::<f32>(k * sw);
            }
            v.clear();
            v.resize(k * sw, neutral(max));
        }
        self.prefix.clear();
        self.prefix.resize(sw, neutral(max));
        for _ in 0..r {
            self.push(None);
        }
    }

    /// Where the next row goes, for [`advance`](Self::advance).
    #[inline(always)]
    fn slot(&mut self) -> &mut [f32] {
        let (k, sw) = (2 * self.r + 1, self.sw);
        &mut self.block[(self.fed % k) * sw..][..sw]
    }

    /// Takes in the next row (`None`: a neutral padding row); returns the
    /// result row now known, if any.
    #[inline(always)]
    fn push(&mut self, row: Option<&[f32]>) -> Option<usize> {
        let (k, sw, max) = (2 * self.r + 1, self.sw, self.max);
        let i = self.fed % k;
        let slot = &mut self.block[i * sw..][..sw];
        match row {
            // The copy and the prefix in one pass.
            Some(f) if i == 0 => {
                for ((s, c), &v) in slot.iter_mut().zip(self.prefix.iter_mut()).zip(f) {
                    (*s, *c) = (v, v);
                }
            }
            Some(f) => {
                for ((s, c), &v) in slot.iter_mut().zip(self.prefix.iter_mut()).zip(f) {
                    *s = v;
                    *c = extreme(max, *c, v);
                }
            }
            None => {
                slot.fill(neutral(max));
                if i == 0 {
                    self.prefix.fill(neutral(max));
                }
            }
        }
        self.taken(i)
    }

    /// Takes in the row written into [`slot`](Self::slot); returns the
    /// result row now known, if any.
    #[inline(always)]
    fn advance(&mut self) -> Option<usize> {
        let (k, sw, max) = (2 * self.r + 1, self.sw, self.max);
        let i = self.fed % k;
        let slot = &self.block[i * sw..][..sw];
        if i == 0 {
            self.prefix.copy_from_slice(slot);
        } else {
            for (c, &v) in self.prefix.iter_mut().zip(slot) {
                *c = extreme(max, *c, v);
            }
        }
        self.taken(i)
    }

    /// After row `i` of the block went in: the block's suffixes when it
    /// is complete, and the result row now known.
    #[inline(always)]
    fn taken(&mut self, i: usize) -> Option<usize> {
        let (r, sw, max) = (self.r, self.sw, self.max);
        let k = 2 * r + 1;
        if i == k - 1 {
            // Last row first.
            for j in (0..k - 1).rev() {
                let (head, tail) = self.block.split_at_mut((j + 1) * sw);
                for (c, &n) in head[j * sw..].iter_mut().zip(&tail[..sw]) {
                    *c = extreme(max, n, *c);
                }
            }
            std::mem::swap(&mut self.block, &mut self.suffix);
        }
        let p = self.fed;
        self.fed += 1;
        // Result row y is the window [y, y + 2r] of padded rows.
        p.checked_sub(2 * r)
    }

    /// Writes result row `y`, the one [`push`](Self::push) or
    /// [`advance`](Self::advance) just reported: the suffix of y's block
    /// (complete: the last one) against the running prefix.
    #[inline(always)]
    fn result_into(&self, y: usize, dst: &mut [f32]) {
        let (k, sw) = (2 * self.r + 1, self.sw);
        let s = &self.suffix[(y % k) * sw..][..sw];
        for ((o, &a), &b) in dst[..sw].iter_mut().zip(s).zip(&self.prefix) {
            *o = extreme(self.max, a, b);
        }
    }
}

/// The grey-level opening (`max_first = false`) or closing by a (2r+1)²
/// square of an image fed row by row, each result row handed out as soon
/// as it is known (2r rows later). A square is separable and extremes
/// along one axis commute, so opening = dilate_x ∘ dilate_y ∘ erode_y ∘
/// erode_x: each row is eroded along x while in cache, goes through the
/// two running vertical extremes (only ≈ 4 (2r + 1) rows of scratch, no
/// image-sized intermediate) and is dilated along x as it comes out.
struct OpenRows {
    r: usize,
    max_first: bool,
    first: WindowRows,
    second: WindowRows,
    line: Vec<f32>,
    out: Vec<f32>,
    a: Vec<f32>,
    b: Vec<f32>,
}

impl OpenRows {
    fn new(w: usize, r: usize, max_first: bool) -> OpenRows {
        let mut o = OpenRows {
            r,
            max_first,
            first: WindowRows::new(),
            second: WindowRows::new(),
            line: vec![0.0; w],
            out: vec![0.0; w],
            a: Vec::new(),
            b: Vec::new(),
        };
        o.first.start(w, r, max_first);
        o.second.start(w, r, !max_first);
        o
    }

    /// The next row of the image; `emit(y, row)` gets each result row
    /// this completes.
    fn push(&mut self, row: &[f32], emit: &mut dyn FnMut(usize, &[f32])) {
        open_rows_step(self, Some(row), emit);
    }

    /// After the last row: the results still to come.
    fn finish(&mut self, emit: &mut dyn FnMut(usize, &[f32])) {
        for _ in 0..self.r {
            open_rows_step(self, None, emit);
        }
        for _ in 0..self.r {
            if let Some(d) = self.second.push(None) {
                self.emit_row(d, emit);
            }
        }
    }

    /// Result row `d` of the second vertical pass, just completed,
    /// dilated (or eroded) along x and handed to `emit`.
    #[inline(always)]
    fn emit_row(&mut self, d: usize, emit: &mut dyn FnMut(usize, &[f32])) {
        self.second.result_into(d, &mut self.out);
        let (max, r) = (!self.max_first, self.r);
        line_pass(max, &self.out, &mut self.line, r, &mut self.a, &mut self.b);
        emit(d, &self.line);
    }
}

/// The running extreme along a line ([`line_extreme`]), minimum or
/// maximum.
fn line_pass(
    max: bool,
    src: &[f32],
    dst: &mut [f32],
    r: usize,
    a: &mut Vec<f32>,
    b: &mut Vec<f32>,
) {
    if max {
        line_extreme::<true>(src, dst, r, a, b);
    } else {
        line_extreme::<false>(src, dst, r, a, b);
    }
}

/// One row into an [`OpenRows`] (`None`: a padding row after the last,
/// already eroded along x): along x, down the first vertical pass, its
/// result (if one is complete) down the second, and the second's result
/// (if one is complete) along x to `emit`. Compiled also for AVX2 and
/// AVX-512, chosen at run time (extremes are exact, so every version
/// gives the same result).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
fn open_rows_step(o: &mut OpenRows, row: Option<&[f32]>, emit: &mut dyn FnMut(usize, &[f32])) {
    let done = match row {
        Some(row) => {
            line_pass(o.max_first, row, &mut o.line, o.r, &mut o.a, &mut o.b);
            o.first.push(Some(&o.line))
        }
        None => o.first.push(None),
    };
    if let Some(e) = done {
        o.first.result_into(e, o.second.slot());
        if let Some(d) = o.second.advance() {
            o.emit_row(d, emit);
        }
    }
}

/// The running extreme along one line: `dst[x]` = min (or max) of
/// `src[x - r ..= x + r]` (clamped). The line, padded with r neutral
/// samples each side, is reduced by doubling windows — 2, 4, … p ≤ 2r + 1
/// samples, each step one vectorised pass over a line that stays in L1 —
/// and every window of 2r + 1 is two overlapping windows of p. `a`, `b`
/// are scratch. Compiled also for AVX2 and AVX-512, chosen at run time
/// (extremes are exact, so every version gives the same result).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
fn line_extreme<const MAX: bool>(
    src: &[f32],
    dst: &mut [f32],
    r: usize,
    a: &mut Vec<f32>,
    b: &mut Vec<f32>,
) {
    let n = src.len().min(dst.len());
    let pick = |x: f32, y: f32| extreme(MAX, x, y);
    let id = neutral(MAX);
    if r == 0 || n == 0 {
        dst[..n].copy_from_slice(&src[..n]);
        return;
    }
    let k = 2 * r + 1;
    // a[i] = extreme of the padded line over [i, i + s), starting at
    // s = 2 straight from `src` (no padded copy of the line): pairs inside
    // the line, a lone sample at each end, neutral beyond.
    a.clear();
    a.resize(n + 2 * r - 1, id);
    a[r - 1] = src[0];
    for ((o, &x), &y) in a[r..r + n - 1]
        .iter_mut()
        .zip(&src[..n - 1])
        .zip(&src[1..n])
    {
        *o = pick(x, y);
    }
    a[r + n - 1] = src[n - 1];
    b.resize(a.len(), id);
    let mut s = 2;
    while 2 * s <= k {
        let len = a.len() - s;
        for ((o, &x), &y) in b[..len].iter_mut().zip(&a[..len]).zip(&a[s..]) {
            *o = pick(x, y);
        }
        std::mem::swap(a, b);
        a.truncate(len);
        s *= 2;
    }
    for ((o, &x), &y) in dst[..n].iter_mut().zip(&a[..n]).zip(&a[k - s..]) {
        *o = pick(x, y);
    }
}

/// The grey-level dilation of `img` by a (2r + 1)² square (each pixel
/// the greatest value within r of it, clamped at the borders): each row
/// dilated along x, then through one running vertical maximum
/// ([`WindowRows`], ≈ 2 (2r + 1) rows of scratch that stay in cache).
pub(crate) fn dilate_square(img: &FloatImage, r: usize) -> FloatImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut out = crate::pool::take::<f32>(w * h);
    if w > 0 && h > 0 {
        let mut rows = WindowRows::new();
        rows.start(w, r, true);
        let (mut line, mut a, mut b) = (vec![0f32; w], Vec::new(), Vec::new());
        let emit = |y: Option<usize>, rows: &WindowRows, out: &mut [f32]| {
            if let Some(y) = y {
                rows.result_into(y, &mut out[y * w..(y + 1) * w]);
            }
        };
        for src in img.as_raw().chunks(w) {
            line_pass(true, src, &mut line, r, &mut a, &mut b);
            let y = rows.push(Some(&line));
            emit(y, &rows, &mut out);
        }
        for _ in 0..r {
            let y = rows.push(None);
            emit(y, &rows, &mut out);
        }
    }
    FloatImage::from_raw(w as u32, h as u32, out).unwrap_or_else(|| FloatImage::new(0, 0))
}

/// White top-hat: the image minus its opening by a (2r+1)² square, r =
/// `radius_px` (px) rounded, at least 1.
pub fn top_hat(img: &FloatImage, radius_px: f64) -> FloatImage {
    let mut out = img.clone();
    top_hat_in_place(&mut out, radius_px);
    out
}

/// [`top_hat`] in place, with ≈ 4 (2r + 1) rows of scratch.
pub(crate) fn top_hat_in_place(img: &mut FloatImage, radius_px: f64) {
    let th = TopHatRows::new(img.width() as usize, img.height() as usize, radius_px);
    th.finish(img);
}

/// The white top-hat of an image taken as its rows are made, in place:
/// [`row`](Self::row) is given each finished row, in order, while it is
/// still in cache, and writes the top-hat of the row 2r rows up, whose
/// opening that row completes; [`finish`](Self::finish) writes the
/// last rows. Each result row's [`range`] is taken as it is written.
pub(crate) struct TopHatRows {
    open: OpenRows,
    w: usize,
    h: usize,
    /// Rows taken in so far.
    fed: usize,
    lo: f32,
    hi: f32,
}

impl TopHatRows {
    /// For a `w` × `h` image and a (2r+1)² square, r = `radius_px`
    /// rounded, at least 1.
    pub(crate) fn new(w: usize, h: usize, radius_px: f64) -> TopHatRows {
        let r = radius_px.round().max(1.0) as usize;
        TopHatRows {
            open: OpenRows::new(w, r, false),
            w,
            h,
            fed: 0,
            lo: f32::INFINITY,
            hi: f32::NEG_INFINITY,
        }
    }

    /// Row `y` of the image is finished: `made` holds rows `0..=y`, as
    /// earlier calls left them (the top-hat written into the rows it is
    /// known for), row y as made. A row out of order, past the last or
    /// of the wrong width is passed over ([`finish`](Self::finish) takes
    /// in the rows missed from the image).
    pub(crate) fn row(&mut self, y: usize, made: &mut [f32]) {
        let w = self.w;
        if w == 0 || y != self.fed || y >= self.h || made.len() < (y + 1) * w {
            return;
        }
        self.fed += 1;
        let (done, rest) = made.split_at_mut(y * w);
        let (lo, hi) = (&mut self.lo, &mut self.hi);
        self.open.push(&rest[..w], &mut |d, bg| {
            subtract_row(done, w, d, bg, lo, hi)
        });
    }

    /// Replaces `img` (the image whose rows went to [`row`](Self::row))
    /// by its white top-hat; returns the result's [`range`].
    pub(crate) fn finish(mut self, img: &mut FloatImage) -> (f32, f32) {
        let w = self.w;
        let data: &mut [f32] = img;
        if w == 0 || data.len() != w * self.h {
            return range(data);
        }
        for y in self.fed..self.h {
            self.row(y, &mut data[..(y + 1) * w]);
        }
        let (lo, hi) = (&mut self.lo, &mut self.hi);
        self.open
            .finish(&mut |d, bg| subtract_row(data, w, d, bg, lo, hi));
        (self.lo, self.hi)
    }
}

/// `out[x] = (out[x] − bg[x]).max(0)`. Compiled also for AVX2 and
/// AVX-512 (exact operations: the same bits in every version).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
fn subtract_clamped(out: &mut [f32], bg: &[f32]) {
    for (o, &b) in out.iter_mut().zip(bg) {
        *o = (*o - b).max(0.0);
    }
}

/// Row `y` of the w-wide `img` minus its opening `bg`, clamped at 0, and
/// its range folded into `lo`, `hi`.
fn subtract_row(img: &mut [f32], w: usize, y: usize, bg: &[f32], lo: &mut f32, hi: &mut f32) {
    let out = &mut img[y * w..(y + 1) * w];
    subtract_clamped(out, bg);
    let (l, h) = range(out);
    (*lo, *hi) = (lo.min(l), hi.max(h));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::flat_field::LargeScale;
    use image::Luma;

    /// Grey-level opening of `img` by a (2r+1)² square.
    fn opening(img: &FloatImage, r: usize) -> FloatImage {
        let w = img.width() as usize;
        let mut out = FloatImage::new(img.width(), img.height());
        if w == 0 {
            return out;
        }
        let mut open = OpenRows::new(w, r, false);
        let dst: &mut [f32] = &mut out;
        let mut put = |y: usize, row: &[f32]| dst[y * w..(y + 1) * w].copy_from_slice(row);
        for row in img.chunks_exact(w) {
            open.push(row, &mut put);
        }
        open.finish(&mut put);
        out
    }

    /// The running extreme along every row of `src` into `dst` (both h × w).
    fn rows_extreme(
        src: &[f32],
        dst: &mut [f32],
        w: usize,
        r: usize,
        max: bool,
        a: &mut Vec<f32>,
        b: &mut Vec<f32>,
    ) {
        if w == 0 {
            return;
        }
        for (s, d) in src.chunks_exact(w).zip(dst.chunks_exact_mut(w)) {
            line_pass(max, s, d, r, a, b);
        }
    }

    /// Brute-force running extreme of a line.
    fn brute(src: &[f32], r: usize, max: bool) -> Vec<f32> {
        (0..src.len())
            .map(|i| {
                let w = &src[i.saturating_sub(r)..(i + r + 1).min(src.len())];
                let f = if max { f32::max } else { f32::min };
                w.iter().cloned().reduce(f).unwrap_or(0.0)
            })
            .collect()
    }
    #[test]
    fn running_min_max_by_hand() {
        let src = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0];
        let mut s = Vec::new();
        let mut run = |r: usize, max: bool| {
            let mut d = vec![0.0; 7];
            let (mut a, mut b) = (vec![], vec![]);
            rows_extreme(&src, &mut d, 7, r, max, &mut a, &mut b);
            s.push(d);
        };
        run(1, false);
        run(1, true);
        run(10, true);
        assert_eq!(s[0], [1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0]);
        assert_eq!(s[1], [3.0, 4.0, 4.0, 5.0, 9.0, 9.0, 9.0]);
        assert_eq!(s[2], [9.0; 7]);
    }
    /// The running extreme of each column of a strip, fed a row at a
    /// time, and of each row, against brute force: windows longer than
    /// the image, r = 0, single rows and columns, and a strip reused for
    /// another size.
    #[test]
    fn row_and_column_passes_equal_brute_force() {
        let mut rng = crate::synth::Rng::new(9);
        let mut col = WindowRows::new();
        let (mut a, mut b): (Vec<f32>, Vec<f32>) = (Vec::new(), Vec::new());
        for (w, h, r) in [
            (5, 17, 2),
            (3, 4, 6),
            (7, 30, 1),
            (1, 1, 3),
            (4, 9, 0),
            (20, 37, 3),
            (70, 3, 34),
            (64, 2, 31),
            (65, 2, 32),
            (6, 150, 7),
        ] {
            let src: Vec<f32> = (0..w * h).map(|_| rng.unit() as f32).collect();
            for max in [false, true] {
                let mut fast = vec![f32::NAN; w * h];
                let mut seen = Vec::new();
                col.start(w, r, max);
                for row in src.chunks_exact(w) {
                    if let Some(y) = col.push(Some(row)) {
                        col.result_into(y, &mut fast[y * w..(y + 1) * w]);
                        seen.push(y);
                    }
                }
                for _ in 0..r {
                    if let Some(y) = col.push(None) {
                        col.result_into(y, &mut fast[y * w..(y + 1) * w]);
                        seen.push(y);
                    }
                }
                assert_eq!(seen, (0..h).collect::<Vec<_>>(), "w{w} h{h} r{r}");
                for x in 0..w {
                    let col: Vec<f32> = (0..h).map(|y| src[y * w + x]).collect();
                    let want = brute(&col, r, max);
                    for y in 0..h {
                        assert_eq!(
                            fast[y * w + x],
                            want[y],
                            "w{w} h{h} r{r} max{max} ({x},{y})"
                        );
                    }
                }
                // Rows.
                let mut rows = vec![0.0; w * h];
                rows_extreme(&src, &mut rows, w, r, max, &mut a, &mut b);
                for (y, row) in rows.chunks_exact(w).enumerate() {
                    let want = brute(&src[y * w..(y + 1) * w], r, max);
                    assert_eq!(row, &want[..], "rows w{w} h{h} r{r} max{max} y{y}");
                }
            }
        }
    }
    /// The opening of a w × h image by a (2r+1)² square clamped at the
    /// edges: the minimum over each square, then the maximum of that.
    fn brute_opening(src: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
        let square = |src: &[f32], max: bool| -> Vec<f32> {
            (0..w * h)
                .map(|i| {
                    let (x, y) = (i % w, i / w);
                    let mut v = if max { f32::MIN } else { f32::MAX };
                    for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                        for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                            let s = src[yy * w + xx];
                            v = if max { v.max(s) } else { v.min(s) };
                        }
                    }
                    v
                })
                .collect()
        };
        square(&square(src, false), true)
    }
    #[test]
    fn opening_equals_brute_force_erosion_then_dilation() {
        let mut rng = crate::synth::Rng::new(2);
        // Wider and narrower than the square, edges included.
        for (w, h, r) in [(150usize, 23usize, 3usize), (70, 41, 7), (9, 5, 4)] {
            let img = FloatImage::from_fn(w as u32, h as u32, |_, _| Luma([rng.unit() as f32]));
            let want = brute_opening(img.as_raw(), w, h, r);
            assert_eq!(opening(&img, r).as_raw(), &want, "{w}×{h} r{r}");
        }
    }
    /// The top-hat, and the range it reports, against the image minus a
    /// brute-force opening, clamped at 0: images smaller and larger than
    /// the square, one row, one column; and a `TopHatRows` given rows out
    /// of order, or none, still gives it.
    #[test]
    fn top_hat_equals_brute_force() {
        let mut rng = crate::synth::Rng::new(5);
        for (w, h, r) in [
            (40usize, 33usize, 3usize),
            (9, 70, 5),
            (12, 7, 9),
            (1, 20, 2),
            (25, 1, 4),
        ] {
            let img = FloatImage::from_fn(w as u32, h as u32, |x, y| {
                Luma([(x * 3 + y) as f32 + 40.0 * rng.unit() as f32])
            });
            let src = img.as_raw();
            let open = brute_opening(src, w, h, r);
            let want: Vec<f32> = src
                .iter()
                .zip(&open)
                .map(|(&v, &o)| (v - o).max(0.0))
                .collect();
            let mut got = img.clone();
            let found = TopHatRows::new(w, h, r as f64).finish(&mut got);
            assert_eq!(got.as_raw(), &want, "{w}×{h} r{r}");
            assert_eq!(found, range(&want), "{w}×{h} r{r}");
            // Rows skipped or repeated are taken from the image at the end.
            let mut odd = img.clone();
            let mut rows = TopHatRows::new(w, h, r as f64);
            for y in [0, 0, 2, 1] {
                if y < h {
                    let data: &mut [f32] = &mut odd;
                    rows.row(y, &mut data[..(y + 1) * w]);
                }
            }
            assert_eq!(rows.finish(&mut odd), found);
            assert_eq!(odd.as_raw(), &want, "{w}×{h} r{r}, rows out of order");
            assert_eq!(top_hat(&img, r as f64).as_raw(), &want);
        }
    }
    #[test]
    fn top_hat_removes_a_ramp_and_keeps_a_spot() {
        // Ramp 100..~300 plus a 5×5 spot of +500.
        let img = FloatImage::from_fn(80, 60, |x, y| {
            let spot = if (40..45).contains(&x) && (30..35).contains(&y) {
                500.0
            } else {
                0.0
            };
            Luma([100.0 + 2.0 * x as f32 + 1.0 * y as f32 + spot])
        });
        let t = top_hat(&img, 6.0);
        // Away from the spot the ramp is gone (a linear ramp opens to
        // itself, give or take one step at the window ends).
        for (x, y) in [(5, 5), (70, 50), (20, 40), (60, 10)] {
            assert!(
                t.get_pixel(x, y)[0] <= 1e-3,
                "({x},{y}) = {}",
                t.get_pixel(x, y)[0]
            );
        }
        let v = t.get_pixel(42, 32)[0];
        assert!((v - 500.0).abs() < 30.0, "spot kept: {v}");
    }
    /// Top-hat rows taken as smoothing makes them (flattened first, as the
    /// pipeline does) give the bits of smoothing, flattening and then the
    /// top-hat of the whole image, and the range of the result.
    #[test]
    fn top_hat_fused_into_smoothing_equals_top_hat_after() {
        use crate::segment::smooth::{smooth, smooth_samples_then};
        let mut rng = crate::synth::Rng::new(21);
        let (w, h) = (83u32, 52u32);
        let dapi = FloatImage::from_fn(w, h, |x, y| {
            Luma([30.0 + (x + y) as f32 + rng.unit() as f32])
        });
        let sox9 = FloatImage::from_fn(w, h, |x, y| {
            let spot = if (x / 9 + y / 7) % 3 == 0 { 400.0 } else { 0.0 };
            Luma([10.0 + x as f32 * 0.5 + spot + 20.0 * rng.unit() as f32])
        });
        let ls = LargeScale::of(&dapi, 10.0);
        for radius in [1.0, 4.0, 7.4, 60.0] {
            let mut want = smooth(&sox9, 1.0);
            ls.flatten(&mut want, 0.2);
            top_hat_in_place(&mut want, radius);
            let mut flat = ls.row_flattener(0.2).unwrap();
            let mut rows = TopHatRows::new(w as usize, h as usize, radius);
            let mut got = smooth_samples_then(sox9.as_raw(), w, h, 1.0, |y, made| {
                flat(y, &mut made[y * w as usize..]);
                rows.row(y, made);
            });
            let bits = |i: &FloatImage| i.as_raw().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            // The rows whose whole window was in are written already.
            let r = radius.round() as usize;
            let ready = (h as usize).saturating_sub(2 * r) * w as usize;
            assert_eq!(bits(&got)[..ready], bits(&want)[..ready], "radius {radius}");
            let found = rows.finish(&mut got);
            assert_eq!(bits(&got), bits(&want), "radius {radius}");
            assert_eq!(found, range(want.as_raw()), "radius {radius}");
            assert!(found.0 >= 0.0 && found.1 > 100.0, "{found:?}");
        }
    }
}
