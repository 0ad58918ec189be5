//! Background correction: white top-hat (subtracting a grey-level opening,
//! the flat-structuring-element cousin of ImageJ's rolling ball) and
//! large-Gaussian subtraction.

use serde::{Deserialize, Serialize};

use super::threshold::range;
use crate::FloatImage;

/// Which background correction to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// No correction.
    None,
    /// Subtract the grey-level opening by a square of half-side `radius`:
    /// removes every bright structure narrower than the square and keeps
    /// the rest, whatever the shape of the background.
    TopHat,
    /// Subtract a Gaussian blur of σ = `radius`.
    Gaussian,
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "none" | "off" => Ok(Method::None),
            "top_hat" | "tophat" | "rolling_ball" => Ok(Method::TopHat),
            "gaussian" => Ok(Method::Gaussian),
            _ => Err(format!(
                "unknown background method `{s}` (none, top-hat or gaussian)"
            )),
        }
    }
}

/// Rows of `sw` samples, `stride` apart: a strip of columns of an image
/// (or a whole packed image when `stride == sw`).
#[derive(Clone, Copy)]
struct Strip {
    stride: usize,
    sw: usize,
    h: usize,
}

impl Strip {
    fn row<'a>(&self, data: &'a [f32], y: usize) -> &'a [f32] {
        &data[y * self.stride..y * self.stride + self.sw]
    }
    fn row_mut<'a>(&self, data: &'a mut [f32], y: usize) -> &'a mut [f32] {
        &mut data[y * self.stride..y * self.stride + self.sw]
    }
}

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

/// Running minimum (`max = false`) or maximum over `[y - r, y + r]`
/// (clamped) down every column of a strip (`src` and `dst` laid out as
/// `s_src` and `s_dst`, h rows of sw samples each), van Herk /
/// Gil-Werman: prefix extremes within blocks of 2r + 1 rows going
/// forwards, suffix extremes going backwards, and every window is one
/// block's suffix against the next one's prefix — three comparisons per
/// sample whatever `r`. The prefixes are kept (`g`, scratch); the suffix is
/// one running row (`suffix`, scratch), each output row written as soon as
/// its suffix is known. Every inner loop runs along a row and vectorises;
/// rows are read and written in place, with no copy of the strip.
/// Compiled also for AVX2 and AVX-512, chosen at run time (extremes are
/// exact, so every version gives the same result).
#[allow(clippy::too_many_arguments)]
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
fn vertical_extreme(
    src: &[f32],
    s_src: Strip,
    dst: &mut [f32],
    s_dst: Strip,
    r: usize,
    max: bool,
    g: &mut Vec<f32>,
    suffix: &mut Vec<f32>,
) {
    let (w, h) = (s_src.sw, s_src.h);
    if h == 0 || w == 0 {
        return;
    }
    let id = neutral(max);
    let pick = |a: f32, b: f32| extreme(max, a, b);
    let k = 2 * r + 1;
    let n = h + 2 * r; // padded rows
    let row = |y: usize| -> Option<&[f32]> { (y >= r && y - r < h).then(|| s_src.row(src, y - r)) };
    g.clear();
    g.resize(n * w, id);
    for y in 0..n {
        let (prev, cur) = g.split_at_mut(y * w);
        let cur = &mut cur[..w];
        match (row(y), y % k != 0) {
            (Some(f), true) => {
                for ((c, p), v) in cur.iter_mut().zip(&prev[(y - 1) * w..]).zip(f) {
                    *c = pick(*p, *v);
                }
            }
            (Some(f), false) => cur.copy_from_slice(f),
            (None, true) => cur.copy_from_slice(&prev[(y - 1) * w..y * w]),
            (None, false) => {}
        }
    }
    suffix.clear();
    suffix.resize(w, id);
    for y in (0..n).rev() {
        match (row(y), (y + 1) % k != 0 && y + 1 < n) {
            (Some(f), true) => {
                for (c, v) in suffix.iter_mut().zip(f) {
                    *c = pick(*c, *v);
                }
            }
            (Some(f), false) => suffix.copy_from_slice(f),
            (None, true) => {}
            (None, false) => suffix.fill(id),
        }
        if y < h {
            // Window [y, y + 2r] in padded rows.
            let b = &g[(y + k - 1) * w..(y + k) * w];
            for ((o, x), z) in s_dst.row_mut(dst, y).iter_mut().zip(&*suffix).zip(b) {
                *o = pick(*x, *z);
            }
        }
    }
}

/// Columns per strip of the vertical passes (scratch: the prefix
/// extremes and the first pass's result, ≈ 2 × h × 128 floats). Measured
/// on a 2048² field: 64, 128 and 256 columns equally fast, 32 about 10 %
/// slower (short rows).
const STRIP: usize = 128;

/// The grey-level opening (`max_first = false`) or closing of `src` by a
/// (2r+1)² square, into `dst`. A square is separable and extremes along one axis commute,
/// so opening = dilate_x ∘ (dilate_y ∘ erode_y) ∘ erode_x: the row passes
/// run a row at a time and the vertical opening a strip of columns at a
/// time.
fn square_open(src: &[f32], dst: &mut [f32], w: usize, r: usize, max_first: bool) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    rows_extreme(src, dst, w, r, max_first, &mut a, &mut b);
    square_open_rest(dst, w, r, max_first, None);
}

/// [`square_open`] after its first (row) pass, which left `dst`. With
/// `subtract_from`, the last pass writes that image minus the result,
/// clamped at 0 (the white top-hat), instead of the result.
fn square_open_rest(
    dst: &mut [f32],
    w: usize,
    r: usize,
    max_first: bool,
    subtract_from: Option<&mut [f32]>,
) -> Option<(f32, f32)> {
    if w == 0 || dst.is_empty() {
        return subtract_from.map(|img| range(img));
    }
    let h = dst.len() / w;
    // The strips' scratch (a few MiB for a large image) from the pool.
    let sw = STRIP.min(w);
    let mut g = crate::pool::take::<f32>((h + 2 * r) * sw);
    let mut b = crate::pool::take::<f32>(h * sw);
    let mut suffix = Vec::new();
    for x0 in (0..w).step_by(STRIP) {
        let sw = STRIP.min(w - x0);
        let in_image = Strip { stride: w, sw, h };
        let packed = Strip { stride: sw, sw, h };
        b.resize(h * sw, 0.0);
        let (g, s) = (&mut g, &mut suffix);
        vertical_extreme(&dst[x0..], in_image, &mut b, packed, r, max_first, g, s);
        vertical_extreme(&b, packed, &mut dst[x0..], in_image, r, !max_first, g, s);
    }
    crate::pool::give(g);
    crate::pool::give(b);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut line = vec![0f32; w];
    match subtract_from {
        None => {
            for row in dst.chunks_exact_mut(w) {
                line.copy_from_slice(row);
                if max_first {
                    line_extreme::<false>(&line, row, r, &mut a, &mut b);
                } else {
                    line_extreme::<true>(&line, row, r, &mut a, &mut b);
                }
            }
            None
        }
        Some(img) => {
            // The range of the result, a row at a time while it is in cache.
            let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
            for (row, out) in dst.chunks_exact(w).zip(img.chunks_exact_mut(w)) {
                if max_first {
                    line_extreme::<false>(row, &mut line, r, &mut a, &mut b);
                } else {
                    line_extreme::<true>(row, &mut line, r, &mut a, &mut b);
                }
                for (o, &bg) in out.iter_mut().zip(&line) {
                    *o = (*o - bg).max(0.0);
                }
                let (l, h) = range(out);
                (lo, hi) = (lo.min(l), hi.max(h));
            }
            Some((lo, hi))
        }
    }
}

/// The running extreme along one line: `dst[x]` = min (or max) of
/// `src[x - r ..= x + r]` (clamped). The line, padded with r neutral
/// samples each side, is reduced by doubling windows — 2, 4, … p ≤ 2r + 1
/// samples, each step one vectorised pass over a line that stays in L1 —
/// and every window of 2r + 1 is two overlapping windows of p. `a`, `b`
/// are scratch. Compiled also for AVX2 and AVX-512, as
/// [`vertical_extreme`].
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
        if max {
            line_extreme::<true>(s, d, r, a, b);
        } else {
            line_extreme::<false>(s, d, r, a, b);
        }
    }
}

/// Grey-level opening of `img` by a (2r+1)² square.
pub fn opening(img: &FloatImage, r: usize) -> FloatImage {
    let mut out = FloatImage::new(img.width(), img.height());
    square_open(img.as_raw(), &mut out, img.width() as usize, r, false);
    out
}

/// White top-hat: the image minus its opening by a (2r+1)² square.
pub fn top_hat(img: &FloatImage, radius_px: f64) -> FloatImage {
    let mut out = img.clone();
    top_hat_in_place(&mut out, radius_px);
    out
}

/// [`top_hat`] in place; holds one more image while it works.
pub fn top_hat_in_place(img: &mut FloatImage, radius_px: f64) {
    let w = img.width() as usize;
    let mut th = TopHatRows::new(w, img.height() as usize, radius_px);
    for (y, row) in img.chunks_exact(w.max(1)).enumerate() {
        th.row(y, row);
    }
    th.finish(img);
}

/// The white top-hat of an image taken as its rows are made: [`row`]
/// (Self::row) is given each finished row, in order, and erodes it along
/// x while it is still in cache (the first pass of the opening);
/// [`finish`](Self::finish) runs the other passes and subtracts, in
/// place. The same arithmetic as [`top_hat_in_place`].
pub struct TopHatRows {
    /// The opening as it is made (from the thread's buffer pool).
    opened: Vec<f32>,
    w: usize,
    r: usize,
    a: Vec<f32>,
    b: Vec<f32>,
}

impl TopHatRows {
    /// For a `w` × `h` image and a (2r+1)² square, r = `radius_px`
    /// rounded, at least 1.
    pub fn new(w: usize, h: usize, radius_px: f64) -> TopHatRows {
        TopHatRows {
            // Written whole, a row at a time.
            opened: crate::pool::take::<f32>(w * h),
            w,
            r: radius_px.round().max(1.0) as usize,
            a: Vec::new(),
            b: Vec::new(),
        }
    }

    /// Row `y` of the image, finished (rows of another length or past the
    /// last are ignored).
    pub fn row(&mut self, y: usize, row: &[f32]) {
        let w = self.w;
        if row.len() != w || (y + 1) * w > self.opened.len() {
            return;
        }
        let out = &mut self.opened[y * w..(y + 1) * w];
        line_extreme::<false>(row, out, self.r, &mut self.a, &mut self.b);
    }

    /// Replaces `img` (every row given to [`row`](Self::row)) by its white
    /// top-hat; returns the result's [`range`] (found as it is written).
    pub fn finish(mut self, img: &mut FloatImage) -> (f32, f32) {
        let found = if img.as_raw().len() == self.opened.len() {
            square_open_rest(&mut self.opened, self.w, self.r, false, Some(img))
        } else {
            None
        };
        crate::pool::give(self.opened);
        found.unwrap_or_else(|| range(img.as_raw()))
    }
}

/// The image minus a Gaussian blur of σ = `sigma_px`, clamped at 0, in
/// place.
pub fn subtract_gaussian_in_place(img: &mut FloatImage, sigma_px: f64) {
    if sigma_px < 0.3 {
        return;
    }
    let bg = crate::segment::smooth(img, sigma_px);
    subtract(img, &bg);
}

/// The image minus a Gaussian blur of σ = `sigma_px`, clamped at 0.
pub fn subtract_gaussian(img: &FloatImage, sigma_px: f64) -> FloatImage {
    let mut out = img.clone();
    subtract_gaussian_in_place(&mut out, sigma_px);
    out
}

fn subtract(img: &mut FloatImage, bg: &FloatImage) {
    for (a, b) in img.iter_mut().zip(bg.as_raw()) {
        *a = (*a - b).max(0.0);
    }
}

/// Applies `method` with its radius/σ in pixels.
pub fn correct(img: &FloatImage, method: Method, radius_px: f64) -> FloatImage {
    let mut out = img.clone();
    correct_in_place(&mut out, method, radius_px);
    out
}

/// [`correct`] in place.
pub fn correct_in_place(img: &mut FloatImage, method: Method, radius_px: f64) {
    match method {
        Method::None => {}
        Method::TopHat => top_hat_in_place(img, radius_px),
        Method::Gaussian => subtract_gaussian_in_place(img, radius_px),
    }
}

/// The local mean of an image at a large scale — a Gaussian of σ
/// `sigma_px` — kept small: computed on a copy block-averaged by k ≈ σ/4
/// and read back by bilinear interpolation, so neither the cost nor the
/// memory grows with σ or with the image.
#[derive(Clone, Debug)]
pub struct LargeScale {
    small: Vec<f32>,
    k: usize,
    sw: usize,
    sh: usize,
    w: usize,
    h: usize,
    max: f32,
}

impl LargeScale {
    /// The large-scale mean of `img`.
    pub fn of(img: &FloatImage, sigma_px: f64) -> LargeScale {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let mut sums = LargeScaleRows::new(w, h, sigma_px);
        for (y, row) in img.as_raw().chunks_exact(w.max(1)).enumerate() {
            sums.row(y, row);
        }
        sums.finish()
    }
}

/// [`LargeScale::of`] an image taken as its rows are made: [`row`]
/// (Self::row) adds each finished row, in order, to the block sums while
/// it is still in cache, and [`finish`](Self::finish) makes the profile —
/// the same arithmetic in the same order, so the same bits.
pub struct LargeScaleRows {
    small: Vec<f32>,
    count: Vec<u32>,
    k: usize,
    sw: usize,
    sh: usize,
    w: usize,
    h: usize,
    sigma_px: f64,
}

impl LargeScaleRows {
    /// For a `w` × `h` image and a Gaussian of σ `sigma_px`.
    pub fn new(w: usize, h: usize, sigma_px: f64) -> LargeScaleRows {
        let k = ((sigma_px / 4.0).floor() as usize).clamp(1, w.min(h).max(1));
        let (sw, sh) = (w.div_ceil(k), h.div_ceil(k));
        LargeScaleRows {
            small: vec![0f32; sw * sh],
            count: vec![0u32; sw * sh],
            k,
            sw,
            sh,
            w,
            h,
            sigma_px,
        }
    }

    /// Row `y` of the image, finished (rows of another length or past the
    /// last are ignored).
    pub fn row(&mut self, y: usize, row: &[f32]) {
        if row.len() != self.w || y >= self.h {
            return;
        }
        let o = (y / self.k) * self.sw;
        for (bx, block) in row.chunks(self.k).enumerate() {
            self.small[o + bx] += block.iter().sum::<f32>();
            self.count[o + bx] += block.len() as u32;
        }
    }

    /// The profile of the rows given.
    pub fn finish(self) -> LargeScale {
        let LargeScaleRows {
            mut small,
            count,
            k,
            sw,
            sh,
            w,
            h,
            sigma_px,
        } = self;
        for (s, c) in small.iter_mut().zip(&count) {
            *s /= (*c).max(1) as f32;
        }
        let sigma_small = sigma_px / k as f64;
        if sigma_small >= 0.3 && sw > 0 && sh > 0 {
            let mut blurred = vec![0f32; sw * sh];
            crate::segment::gaussian::blur(&small, &mut blurred, sw, sh, sigma_small as f32);
            small = blurred;
        }
        let mut out = LargeScale {
            small,
            k,
            sw,
            sh,
            w,
            h,
            max: 0.0,
        };
        let mut max = 0f32;
        out.rows(|_, row| max = row.iter().cloned().fold(max, f32::max));
        out.max = max;
        out
    }
}

impl LargeScale {
    /// Bilinear weights from output coordinate to block centres
    /// ((k - 1)/2, (3k - 1)/2, …): lower index, upper index, weight of upper.
    fn axis(&self, n: usize, sn: usize) -> Vec<(usize, usize, f32)> {
        let k = self.k as f64;
        (0..n)
            .map(|x| {
                let f = ((x as f64 - (k - 1.0) / 2.0) / k).clamp(0.0, (sn.max(1) - 1) as f64);
                let x0 = f.floor() as usize;
                (x0, (x0 + 1).min(sn.max(1) - 1), (f - x0 as f64) as f32)
            })
            .collect()
    }

    /// Calls `f(y, row)` with each full-resolution row of the mean, in
    /// order (see [`ProfileRows`]).
    fn rows(&self, mut f: impl FnMut(usize, &[f32])) {
        if self.small.is_empty() {
            return;
        }
        let mut rows = ProfileRows::new(self);
        for y in 0..self.h {
            f(y, rows.row(y));
        }
    }

    /// The mean as a full-resolution image.
    pub fn to_image(&self) -> FloatImage {
        let mut out = FloatImage::new(self.w as u32, self.h as u32);
        let (w, data): (usize, &mut [f32]) = (self.w, &mut out);
        self.rows(|y, row| data[y * w..(y + 1) * w].copy_from_slice(row));
        out
    }

    /// The largest value of the mean at full resolution (0 if none is
    /// positive).
    pub fn max(&self) -> f32 {
        self.max
    }

    /// Flat-field correction: divides `img` (same size), in place, by this
    /// profile normalised to its maximum and floored at `floor`. With the
    /// large-scale mean of a stain present everywhere (DAPI), that is the
    /// illumination. Returns the [`range`] of the image after it (found as
    /// each row is written).
    pub fn flatten(&self, img: &mut FloatImage, floor: f32) -> (f32, f32) {
        let flat = (img.width() as usize == self.w && img.height() as usize == self.h)
            .then(|| self.row_flattener(floor))
            .flatten();
        let Some(mut flat) = flat else {
            return range(img.as_raw());
        };
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for (y, row) in img.chunks_exact_mut(self.w.max(1)).enumerate() {
            flat(y, row);
            let (l, h) = range(row);
            (lo, hi) = (lo.min(l), hi.max(h));
        }
        (lo, hi)
    }

    /// [`flatten`](Self::flatten) a row at a time: `f(y, row)` divides row
    /// y (of this profile's width) in place, rows taken in order, so the
    /// step can run as each row is made. `None` when the profile is not
    /// positive anywhere (flattening leaves the image as it is).
    pub fn row_flattener(&self, floor: f32) -> Option<impl FnMut(usize, &mut [f32]) + '_> {
        let max = self.max();
        if max.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || self.small.is_empty() {
            return None;
        }
        let mut rows = ProfileRows::new(self);
        Some(move |y: usize, data: &mut [f32]| {
            if y < self.h {
                for (v, p) in data.iter_mut().zip(rows.row(y)) {
                    *v /= (p / max).max(floor);
                }
            }
        })
    }
}

/// The full-resolution rows of a [`LargeScale`] profile. The profile's
/// rows interpolated along x are kept, two at a time, while the output
/// rows between them are blended (the same arithmetic as interpolating
/// every sample, a k-th of the work); rows asked for in order cost one
/// blend each.
struct ProfileRows<'a> {
    ls: &'a LargeScale,
    xs: Vec<(usize, usize, f32)>,
    ys: Vec<(usize, usize, f32)>,
    row: Vec<f32>,
    top: Vec<f32>,
    bottom: Vec<f32>,
    have_top: usize,
    have_bottom: usize,
}

impl<'a> ProfileRows<'a> {
    fn new(ls: &'a LargeScale) -> Self {
        ProfileRows {
            ls,
            xs: ls.axis(ls.w, ls.sw),
            ys: ls.axis(ls.h, ls.sh),
            row: vec![0f32; ls.w],
            top: vec![0f32; ls.w],
            bottom: vec![0f32; ls.w],
            have_top: usize::MAX,
            have_bottom: usize::MAX,
        }
    }

    /// Row y (< the profile's height; the profile is not empty).
    fn row(&mut self, y: usize) -> &[f32] {
        let (small, sw, xs) = (&self.ls.small, self.ls.sw, &self.xs);
        let along_x = |j: usize, line: &mut [f32]| {
            let a = &small[j * sw..(j + 1) * sw];
            for (o, &(x0, x1, tx)) in line.iter_mut().zip(xs) {
                *o = a[x0] * (1.0 - tx) + a[x1] * tx;
            }
        };
        let (y0, y1, ty) = self.ys[y];
        if self.have_top != y0 {
            if self.have_bottom == y0 {
                std::mem::swap(&mut self.top, &mut self.bottom);
                self.have_bottom = usize::MAX;
            } else {
                along_x(y0, &mut self.top);
            }
            self.have_top = y0;
        }
        if self.have_bottom != y1 {
            along_x(y1, &mut self.bottom);
            self.have_bottom = y1;
        }
        for ((o, &t), &b) in self.row.iter_mut().zip(&self.top).zip(&self.bottom) {
            *o = t * (1.0 - ty) + b * ty;
        }
        &self.row
    }
}

/// The large-scale mean (see [`LargeScale`]) as a full-resolution image.
pub fn large_scale_mean(img: &FloatImage, sigma_px: f64) -> FloatImage {
    LargeScale::of(img, sigma_px).to_image()
}

/// Flat-field correction: divides each image, in place, by `profile`
/// (normalised to its maximum, floored at `floor`). With the
/// [`large_scale_mean`] of a stain present everywhere (DAPI) as profile,
/// that is the illumination.
pub fn flat_field(images: &mut [FloatImage], profile: &FloatImage, floor: f32) {
    let max = profile.as_raw().iter().cloned().fold(0f32, f32::max);
    if max.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return;
    }
    for img in images.iter_mut() {
        for (v, p) in img.iter_mut().zip(profile.as_raw()) {
            *v /= (p / max).max(floor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

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

    #[test]
    fn row_and_column_passes_equal_brute_force() {
        let mut rng = crate::synth::Rng::new(9);
        let (mut g, mut hh) = (Vec::new(), Vec::new());
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
        ] {
            let src: Vec<f32> = (0..w * h).map(|_| rng.unit() as f32).collect();
            for max in [false, true] {
                let mut fast = vec![0.0; w * h];
                let all = Strip {
                    stride: w,
                    sw: w,
                    h,
                };
                vertical_extreme(&src, all, &mut fast, all, r, max, &mut g, &mut hh);
                // A strip of columns inside a wider image, read and
                // written in place.
                if w > 2 {
                    let (x0, sw) = (1, w - 2);
                    let part = Strip { stride: w, sw, h };
                    let mut out = vec![-1.0; w * h];
                    vertical_extreme(
                        &src[x0..],
                        part,
                        &mut out[x0..],
                        part,
                        r,
                        max,
                        &mut g,
                        &mut hh,
                    );
                    for y in 0..h {
                        for x in 0..w {
                            let want = if (x0..x0 + sw).contains(&x) {
                                fast[y * w + x]
                            } else {
                                -1.0
                            };
                            assert_eq!(out[y * w + x], want, "strip w{w} h{h} r{r} ({x},{y})");
                        }
                    }
                }
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

    #[test]
    fn opening_equals_brute_force_erosion_then_dilation() {
        let mut rng = crate::synth::Rng::new(2);
        // Wider than one strip, so strips and their edges are exercised.
        for (w, h, r) in [(150usize, 23usize, 3usize), (70, 41, 7), (9, 5, 4)] {
            let img = FloatImage::from_fn(w as u32, h as u32, |_, _| Luma([rng.unit() as f32]));
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
            let want = square(&square(img.as_raw(), false), true);
            assert_eq!(opening(&img, r).as_raw(), &want, "{w}×{h} r{r}");
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
        let g = subtract_gaussian(&img, 15.0);
        assert!(g.get_pixel(42, 32)[0] > 400.0);
        assert!(g.get_pixel(20, 40)[0] < 20.0);
    }

    #[test]
    fn flat_field_evens_out_a_vignette() {
        // A uniform "DAPI" field under illumination falling to 40 % at the
        // corners; a P-cad spot in a corner and one at the centre.
        let illum = |x: u32, y: u32| {
            let r2 =
                ((x as f32 - 60.0).powi(2) + (y as f32 - 60.0).powi(2)) / (2.0 * 60.0f32.powi(2));
            1.0 - 0.6 * r2
        };
        let dapi = FloatImage::from_fn(120, 120, |x, y| Luma([100.0 * illum(x, y)]));
        let spot = |x: u32, y: u32| {
            if (x.abs_diff(60) < 3 && y.abs_diff(60) < 3) || (x < 6 && y < 6) {
                50.0
            } else {
                0.0
            }
        };
        let pcad = FloatImage::from_fn(120, 120, |x, y| Luma([(10.0 + spot(x, y)) * illum(x, y)]));
        let mut imgs = [pcad, dapi.clone()];
        flat_field(&mut imgs, &large_scale_mean(&dapi, 8.0), 0.2);
        let (corner, centre) = (imgs[0].get_pixel(3, 3)[0], imgs[0].get_pixel(60, 60)[0]);
        assert!(
            (corner / centre - 1.0).abs() < 0.15,
            "corner {corner} centre {centre}"
        );
        let flat = &imgs[1];
        assert!((flat.get_pixel(10, 10)[0] / flat.get_pixel(60, 60)[0] - 1.0).abs() < 0.1);
        // The large-scale mean of a constant is that constant.
        let c = large_scale_mean(&FloatImage::from_pixel(50, 30, Luma([7.0])), 20.0);
        assert!(c.as_raw().iter().all(|v| (v - 7.0).abs() < 1e-4));
    }

    /// Flattening row by row while smoothing gives the bits of smoothing
    /// and then flattening the image, and of dividing by the full-size
    /// profile; a profile with nothing positive leaves the image alone.
    #[test]
    fn row_flattener_fused_into_smoothing_equals_flatten() {
        use crate::segment::{smooth, smooth_samples_then};
        let mut rng = crate::synth::Rng::new(12);
        let (w, h) = (67u32, 45u32);
        let dapi = FloatImage::from_fn(w, h, |x, _| Luma([20.0 + x as f32 + rng.unit() as f32]));
        let pcad = FloatImage::from_fn(w, h, |_, y| Luma([5.0 + y as f32 * rng.unit() as f32]));
        let ls = LargeScale::of(&dapi, 9.0);
        let mut want = smooth(&pcad, 1.5);
        let mut by_profile = [want.clone()];
        ls.flatten(&mut want, 0.2);
        let flat = ls.row_flattener(0.2).unwrap();
        let got = smooth_samples_then(pcad.as_raw(), w, h, 1.5, flat);
        let bits = |i: &FloatImage| i.as_raw().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want));
        flat_field(&mut by_profile, &ls.to_image(), 0.2);
        assert_eq!(bits(&by_profile[0]), bits(&want));
        let dark = LargeScale::of(&FloatImage::new(w, h), 9.0);
        assert!(dark.row_flattener(0.2).is_none());
        let mut same = pcad.clone();
        assert_eq!(dark.flatten(&mut same, 0.2), range(pcad.as_raw()));
        assert_eq!(same, pcad);
        // The range flatten reports is the flattened image's.
        let mut again = smooth(&pcad, 1.5);
        let found = ls.flatten(&mut again, 0.2);
        assert_eq!(found, range(want.as_raw()));
        assert!(found.0 < found.1);
    }

    /// The profile's block sums taken from each row as smoothing makes it
    /// give the profile of the smoothed image, bit for bit.
    #[test]
    fn large_scale_from_rows_equals_of_the_image() {
        use crate::segment::{smooth, smooth_samples_then};
        let mut rng = crate::synth::Rng::new(29);
        for (w, h, sigma) in [(91u32, 57u32, 13.0), (40, 64, 50.0), (7, 5, 2.0)] {
            let img = FloatImage::from_fn(w, h, |x, _| Luma([x as f32 + 50.0 * rng.unit() as f32]));
            let want = LargeScale::of(&smooth(&img, 0.8), sigma);
            let mut rows = LargeScaleRows::new(w as usize, h as usize, sigma);
            let _ = smooth_samples_then(img.as_raw(), w, h, 0.8, |y, row| rows.row(y, row));
            let got = rows.finish();
            let bits = |i: &FloatImage| i.as_raw().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&got.to_image()),
                bits(&want.to_image()),
                "{w}×{h} σ {sigma}"
            );
            assert_eq!(got.max().to_bits(), want.max().to_bits());
        }
    }

    /// Top-hat rows taken as smoothing makes them (flattened first, as the
    /// pipeline does) give the bits of smoothing, flattening and then the
    /// top-hat of the whole image, and the range of the result.
    #[test]
    fn top_hat_fused_into_smoothing_equals_top_hat_after() {
        use crate::segment::{smooth, smooth_samples_then};
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
            let mut got = smooth_samples_then(sox9.as_raw(), w, h, 1.0, |y, row| {
                flat(y, row);
                rows.row(y, row);
            });
            let found = rows.finish(&mut got);
            let bits = |i: &FloatImage| i.as_raw().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "radius {radius}");
            assert_eq!(found, range(want.as_raw()), "radius {radius}");
            assert!(found.0 >= 0.0 && found.1 > 100.0, "{found:?}");
        }
    }

    /// The interpolated mean, row by row from cached lines, equals
    /// bilinear interpolation sample by sample, bit for bit.
    #[test]
    fn large_scale_rows_equal_per_sample_interpolation() {
        let mut rng = crate::synth::Rng::new(4);
        for (w, h, sigma) in [(97u32, 61u32, 12.0), (40, 130, 9.0), (5, 3, 30.0)] {
            let img = FloatImage::from_fn(w, h, |_, _| Luma([rng.unit() as f32 * 100.0]));
            let ls = LargeScale::of(&img, sigma);
            let (xs, ys) = (ls.axis(ls.w, ls.sw), ls.axis(ls.h, ls.sh));
            let fast = ls.to_image();
            let mut max = 0f32;
            for (y, &(y0, y1, ty)) in ys.iter().enumerate() {
                for (x, &(x0, x1, tx)) in xs.iter().enumerate() {
                    let s = |j: usize, i: usize| ls.small[j * ls.sw + i];
                    let top = s(y0, x0) * (1.0 - tx) + s(y0, x1) * tx;
                    let bottom = s(y1, x0) * (1.0 - tx) + s(y1, x1) * tx;
                    let want = top * (1.0 - ty) + bottom * ty;
                    assert_eq!(
                        fast.get_pixel(x as u32, y as u32)[0],
                        want,
                        "{w}×{h} ({x},{y})"
                    );
                    max = max.max(want);
                }
            }
            assert_eq!(ls.max(), max);
        }
    }
}
