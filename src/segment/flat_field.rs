//! Flat-field correction: the channels divided by the illumination,
//! estimated as the large-scale mean of a stain present everywhere
//! (DAPI: nuclei are everywhere), normalised to its maximum — the
//! retrospective, per-image illumination estimate of CellProfiler's
//! CorrectIlluminationCalculate (Singh et al. 2014, J. Microsc. 256).
//!
//! The large-scale mean (a Gaussian of σ tens of µm) is computed on a
//! block-averaged copy and read back by bilinear interpolation, so its
//! cost and memory do not grow with σ; the division streams row by row
//! (`LargeScale::flat_rows`) while a channel is smoothed.
//!
//! **Above the dark level.** A camera adds a constant offset (its dark
//! level) to every pixel, whatever the light. A profile that includes it
//! is not proportional to the illumination: a tile of a stitched mosaic
//! acquired with a fifth of the photons is then corrected by far less
//! than five-fold, and one threshold for the mosaic misses its dim
//! tiles. The illumination profile ([`LargeScale::illumination`]) is
//! therefore taken above the dark level (the 1st percentile of the least
//! smoothed DAPI in each block of k × k pixels), as a retrospective flat
//! field models a dark term (Peng et al. 2017, BaSiC, Nat. Commun.
//! 8:14836: I = I_true · S + D). The offset also damped the profile's
//! response to nuclear density (dense nuclei around a follicle would
//! otherwise dim its P-cadherin): it is put back as a *pedestal*
//! proportional to the brightness at a coarser scale (σ
//! `coarse_sigma_px`), equal to the dark level where that brightness is
//! the image's mean. A field of even brightness is corrected much as
//! before; a dim tile is corrected as a bright one. DAPI, the profile's
//! own stain, gets the same exchange of dark level for pedestal before
//! its division ([`LargeScale::flatten_stain`]), so its threshold too
//! holds across tiles. Every other channel (the same camera, the same
//! offset) has the dark level taken off before its division, as BaSiC's
//! model has it: the offset is not light, and divided with the light it
//! would stand five times higher in a tile of a fifth of the photons
//! and sink over a follicle's dense nuclei (`FlatRows::divide`).

use super::threshold::range;
use super::window::GridRect;
use crate::FloatImage;

/// The local mean of an image at a large scale — a Gaussian of σ
/// `sigma_px` — kept small: computed on a copy block-averaged by k ≈ σ/4
/// and read back by bilinear interpolation, so neither the cost nor the
/// memory grows with σ or with the image.
#[derive(Clone, Debug)]
pub struct LargeScale {
    /// The block-averaged, blurred copy (shared by a plane's windows).
    small: std::sync::Arc<[f32]>,
    k: usize,
    sw: usize,
    sh: usize,
    /// The width and height read back (a window's, for a window).
    w: usize,
    h: usize,
    /// The top-left pixel read back, in the pixels of the image the
    /// profile was made from ((0, 0) but for a window).
    origin: (usize, usize),
    max: f32,
    /// The image's dark level, taken off the profile (0 for a plain
    /// large-scale mean).
    dark: f32,
    /// What replaces the dark level: a pedestal proportional to the
    /// coarse brightness, read back as the profile is (none for a plain
    /// large-scale mean).
    pedestal: Option<Box<LargeScale>>,
}

/// The percentile of the blocks' least values taken as the dark level.
const DARK_PERCENTILE: f64 = 1.0;

impl LargeScale {
    /// The large-scale mean of `img`.
    pub fn of(img: &FloatImage, sigma_px: f64) -> LargeScale {
        let (w, h) = (img.width() as usize, img.height() as usize);
        LargeScale::taken(img, LargeScaleRows::new(w, h, sigma_px))
    }

    /// The illumination profile of `img` (smoothed DAPI): its large-scale
    /// mean (σ `sigma_px`) above its dark level, plus the pedestal of its
    /// brightness at σ `coarse_sigma_px` (see the module's notes).
    pub fn illumination(img: &FloatImage, sigma_px: f64, coarse_sigma_px: f64) -> LargeScale {
        let (w, h) = (img.width() as usize, img.height() as usize);
        LargeScale::taken(
            img,
            LargeScaleRows::illumination(w, h, sigma_px, coarse_sigma_px),
        )
    }

    fn taken(img: &FloatImage, mut sums: LargeScaleRows) -> LargeScale {
        for (y, row) in img.as_raw().chunks_exact(sums.w.max(1)).enumerate() {
            sums.row(y, row);
        }
        sums.finish()
    }

    /// The dark level taken off the profile (0 for a plain mean).
    pub fn dark(&self) -> f32 {
        self.dark
    }
}

/// [`LargeScale::of`] an image taken as its rows are made: [`row`](Self::row)
/// (Self::row) adds each finished row, in order, to the block sums while
/// it is still in cache, and [`finish`](Self::finish) makes the profile —
/// the same arithmetic in the same order, so the same bits.
pub(crate) struct LargeScaleRows {
    /// Per block held, row by row: the sum of its values, their count,
    /// the least (for the dark level). Made at the first value.
    small: Vec<f32>,
    count: Vec<u32>,
    least: Vec<f32>,
    /// The blocks held (all of them, but for a part of a plane:
    /// [`held_to`](Self::held_to)).
    held: GridRect,
    k: usize,
    sw: usize,
    sh: usize,
    w: usize,
    h: usize,
    sigma_px: f64,
    /// For an illumination profile: the pedestal's σ, px.
    coarse_sigma_px: Option<f64>,
}

impl LargeScaleRows {
    /// For a `w` × `h` image and a Gaussian of σ `sigma_px`.
    pub(crate) fn new(w: usize, h: usize, sigma_px: f64) -> LargeScaleRows {
        let k = LargeScaleRows::block_side(w, h, sigma_px);
        let (sw, sh) = (w.div_ceil(k), h.div_ceil(k));
        LargeScaleRows {
            small: Vec::new(),
            count: Vec::new(),
            least: Vec::new(),
            held: GridRect::all(sw, sh),
            k,
            sw,
            sh,
            w,
            h,
            sigma_px,
            coarse_sigma_px: None,
        }
    }

    /// For the illumination profile of a `w` × `h` image
    /// ([`LargeScale::illumination`]).
    pub(crate) fn illumination(
        w: usize,
        h: usize,
        sigma_px: f64,
        coarse_sigma_px: f64,
    ) -> LargeScaleRows {
        LargeScaleRows {
            coarse_sigma_px: Some(coarse_sigma_px),
            ..LargeScaleRows::new(w, h, sigma_px)
        }
    }

    /// The same sums, holding only the blocks of the part of the image
    /// from column `x0` to `x1` and row `y0` to `y1` (px, ends
    /// excluded): a part of a plane, merged later into the whole's
    /// ([`merge`](Self::merge)), holds a part's worth of blocks.
    pub(crate) fn held_to(self, (x0, x1, y0, y1): (usize, usize, usize, usize)) -> LargeScaleRows {
        let k = self.k;
        let span = |a: usize, b: usize, n: usize| {
            let first = (a / k).min(n);
            (first, b.div_ceil(k).min(n).saturating_sub(first))
        };
        let ((bx0, cols), (by0, rows)) = (span(x0, x1, self.sw), span(y0, y1, self.sh));
        LargeScaleRows {
            small: Vec::new(),
            count: Vec::new(),
            least: Vec::new(),
            held: GridRect {
                x0: bx0,
                y0: by0,
                w: cols,
                h: rows,
            },
            ..self
        }
    }

    /// The sums made, at the first value.
    fn made(&mut self) {
        if self.small.is_empty() {
            let n = self.held.len();
            self.small = vec![0f32; n];
            self.count = vec![0u32; n];
            self.least = vec![f32::INFINITY; n];
        }
    }

    /// Row `y` of the image, finished (rows of another length or past the
    /// last are ignored).
    pub(crate) fn row(&mut self, y: usize, row: &[f32]) {
        if row.len() == self.w {
            self.part(y, 0, row);
        }
    }

    /// The side of the blocks a `w` × `h` image is averaged in for a
    /// Gaussian of σ `sigma_px`, px: a part of the image whose columns
    /// and rows start at multiples of it (or end at the image's edge)
    /// holds whole blocks ([`part`](Self::part)).
    pub(crate) fn block_side(w: usize, h: usize, sigma_px: f64) -> usize {
        ((sigma_px / 4.0).floor() as usize).clamp(1, w.min(h).max(1))
    }

    /// Row `y`'s columns from `x0` on (`x0` a multiple of
    /// [`block_side`](Self::block_side); `segment` ending at a block's end or
    /// the row's, within the blocks held): as [`row`](Self::row) does for
    /// them. A plane given a part at a time, each block's rows in order,
    /// parts whose rows and columns start at block boundaries, sums as the
    /// whole image does, to the bit.
    pub(crate) fn part(&mut self, y: usize, x0: usize, segment: &[f32]) {
        if y >= self.h || !x0.is_multiple_of(self.k) || x0 + segment.len() > self.w {
            return;
        }
        let blocks = segment.len().div_ceil(self.k);
        let Some(o) = self.held.run(x0 / self.k, y / self.k, blocks) else {
            return;
        };
        self.made();
        for (bx, block) in segment.chunks(self.k).enumerate() {
            self.small[o + bx] += block.iter().sum::<f32>();
            self.count[o + bx] += block.len() as u32;
            // The least values serve the dark level of an illumination
            // profile alone.
            if self.coarse_sigma_px.is_some() {
                self.least[o + bx] = block.iter().fold(self.least[o + bx], |a, &v| a.min(v));
            }
        }
    }

    /// Adds the block sums of another part of the same image (parts that
    /// share no block: each block's sum is one part's, exactly), within
    /// the blocks this one holds.
    pub(crate) fn merge(&mut self, other: &LargeScaleRows) {
        if other.small.is_empty() {
            return;
        }
        self.made();
        let w = other.held.w;
        for y in 0..other.held.h {
            let Some(o) = self.held.run(other.held.x0, other.held.y0 + y, w) else {
                continue;
            };
            let from = y * w..(y + 1) * w;
            let to = o..o + w;
            for (s, &v) in self.small[to.clone()]
                .iter_mut()
                .zip(&other.small[from.clone()])
            {
                *s += v;
            }
            for (c, &v) in self.count[to.clone()]
                .iter_mut()
                .zip(&other.count[from.clone()])
            {
                *c += v;
            }
            for (m, &v) in self.least[to].iter_mut().zip(&other.least[from]) {
                *m = m.min(v);
            }
        }
    }

    /// The profile of the rows given.
    pub(crate) fn finish(mut self) -> LargeScale {
        debug_assert!(self.held.is_all(self.sw, self.sh), "a part's profile");
        self.made();
        let LargeScaleRows {
            mut small,
            count,
            least,
            k,
            sw,
            sh,
            w,
            h,
            sigma_px,
            coarse_sigma_px,
            ..
        } = self;
        for (s, c) in small.iter_mut().zip(&count) {
            *s /= (*c).max(1) as f32;
        }
        // The block means blurred at σ (in blocks: σ / k).
        let blur = |src: &[f32], sigma_px: f64| -> Vec<f32> {
            let sigma_small = sigma_px / k as f64;
            let mut blurred = src.to_vec();
            if sigma_small >= 0.3 && sw > 0 && sh > 0 {
                super::gaussian::blur(src, &mut blurred, sw, sh, sigma_small as f32);
            }
            blurred
        };
        let mut out = LargeScale {
            small: blur(&small, sigma_px).into(),
            k,
            sw,
            sh,
            w,
            h,
            origin: (0, 0),
            max: 0.0,
            dark: 0.0,
            pedestal: None,
        };
        if let Some(coarse_sigma_px) = coarse_sigma_px {
            let dark = dark_level(&least);
            let pedestal = pedestal(&small, &count, &blur(&small, coarse_sigma_px), dark);
            let above: Vec<f32> = out
                .small
                .iter()
                .zip(&pedestal)
                .map(|(&m, &p)| (m - dark).max(0.0) + p)
                .collect();
            out.pedestal = Some(Box::new(LargeScale {
                small: pedestal.into(),
                ..out.clone()
            }));
            out.small = above.into();
            out.dark = dark;
        }
        out.max = out.full_max();
        out
    }
}

/// The dark level of an image from its blocks' least values: their
/// [`DARK_PERCENTILE`]th percentile (0 if negative or none).
fn dark_level(least: &[f32]) -> f32 {
    let mut v: Vec<f32> = least.iter().copied().filter(|m| m.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    let i = ((v.len() - 1) as f64 * DARK_PERCENTILE / 100.0).round() as usize;
    let (_, m, _) = v.select_nth_unstable_by(i, f32::total_cmp);
    m.max(0.0)
}

/// The pedestal per block: `dark` × the coarse brightness above `dark`
/// ÷ the image's mean above it (`means`: block means, weighted by their
/// pixel `count`s).
fn pedestal(means: &[f32], count: &[u32], coarse: &[f32], dark: f32) -> Vec<f32> {
    let pixels: f64 = count.iter().map(|&c| f64::from(c)).sum();
    let mean = means
        .iter()
        .zip(count)
        .map(|(&m, &c)| f64::from(m) * f64::from(c))
        .sum::<f64>()
        / pixels.max(1.0);
    let signal = (mean as f32 - dark).max(f32::MIN_POSITIVE);
    coarse
        .iter()
        .map(|&c| dark * ((c - dark).max(0.0) / signal))
        .collect()
}

impl LargeScale {
    /// The profile of the `w` × `h` window whose top-left pixel is (`x0`,
    /// `y0`) of the image it was made from: every value read back as the
    /// whole profile reads it there, normalised by the whole profile's
    /// maximum (a block of a plane analysed in parts is flat-fielded
    /// exactly as the whole plane). The block-averaged copy is shared,
    /// not copied.
    pub fn window(&self, x0: usize, y0: usize, w: usize, h: usize) -> LargeScale {
        LargeScale {
            small: self.small.clone(),
            w,
            h,
            origin: (self.origin.0 + x0, self.origin.1 + y0),
            pedestal: self
                .pedestal
                .as_ref()
                .map(|p| Box::new(p.window(x0, y0, w, h))),
            ..*self
        }
    }

    /// Bilinear weights from output coordinate (from `from`, in the
    /// image's pixels) to block centres ((k - 1)/2, (3k - 1)/2, …): lower
    /// index, upper index, weight of upper.
    fn axis(&self, from: usize, n: usize, sn: usize) -> Vec<(usize, usize, f32)> {
        let k = self.k as f64;
        (from..from + n)
            .map(|x| {
                let f = ((x as f64 - (k - 1.0) / 2.0) / k).clamp(0.0, (sn.max(1) - 1) as f64);
                let x0 = f.floor() as usize;
                (x0, (x0 + 1).min(sn.max(1) - 1), (f - x0 as f64) as f32)
            })
            .collect()
    }

    /// The greatest value of the mean at full resolution, and 0 if none
    /// is positive: what folding every row of [`rows`](Self::rows) gives,
    /// without making most of them. The rows between two profile rows are
    /// blends of those rows' x-interpolations, so no value of such a band
    /// exceeds the greater line's largest value by more than the blend's
    /// rounding (three roundings: < 10⁻⁶ of the largest magnitude).
    /// Bands are made greatest bound first, and once a band's bound is
    /// below the greatest value found, neither it nor any band after it
    /// can hold a greater one.
    fn full_max(&self) -> f32 {
        let mut max = 0f32;
        if self.small.is_empty() || self.w == 0 {
            return max;
        }
        let mut rows = ProfileRows::new(self);
        // Each profile row's x-interpolation: greatest value and largest
        // magnitude.
        let mut line = vec![0f32; self.w];
        let lines: Vec<(f32, f32)> = (0..self.sh)
            .map(|j| {
                rows.along_x(j, &mut line);
                let hi = line.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let mag = line.iter().fold(0f32, |a, &v| a.max(v.abs()));
                (hi, mag)
            })
            .collect();
        // Bands: runs of output rows between the same two profile rows.
        let mut bands: Vec<(f32, usize, usize)> = Vec::new();
        let mut y = 0;
        while y < self.h {
            let (y0, y1, _) = rows.ys[y];
            let end = (y..self.h)
                .find(|&e| (rows.ys[e].0, rows.ys[e].1) != (y0, y1))
                .unwrap_or(self.h);
            let (hi, mag) = (lines[y0].0.max(lines[y1].0), lines[y0].1.max(lines[y1].1));
            // NaN bounds (a NaN profile) sort last and are made anyway.
            bands.push((hi + mag * 1e-6, y, end));
            y = end;
        }
        bands.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (bound, start, end) in bands {
            if bound < max {
                break;
            }
            for y in start..end {
                max = rows.row(y).iter().cloned().fold(max, f32::max);
            }
        }
        max
    }

    /// The largest value of the mean at full resolution (0 if none is
    /// positive).
    pub fn max(&self) -> f32 {
        self.max
    }

    /// Flat-field correction: takes the dark level off `img` (same size;
    /// for a profile above it) and divides it, in place, by this
    /// profile normalised to its maximum and floored at `floor`
    /// (`FlatRows::divide`). With the
    /// large-scale mean of a stain present everywhere (DAPI), that is the
    /// illumination. Returns the range (least, greatest value) of the image after it (found as
    /// each row is written).
    pub fn flatten(&self, img: &mut FloatImage, floor: f32) -> (f32, f32) {
        let flat = (img.width() as usize == self.w && img.height() as usize == self.h)
            .then(|| self.flat_rows(floor))
            .flatten();
        let Some(mut flat) = flat else {
            return range(img.as_raw());
        };
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for (y, row) in img.chunks_exact_mut(self.w.max(1)).enumerate() {
            flat.divide(y, [&mut *row]);
            let (l, h) = range(row);
            (lo, hi) = (lo.min(l), hi.max(h));
        }
        (lo, hi)
    }

    /// [`flatten`](Self::flatten) for the profile's own stain (the
    /// smoothed DAPI it was made from): its dark level exchanged for the
    /// pedestal first, as the profile's was.
    pub fn flatten_stain(&self, img: &mut FloatImage, floor: f32) -> (f32, f32) {
        if let Some(mut flat) = self.flat_rows(floor) {
            if img.width() as usize == self.w && img.height() as usize == self.h {
                for (y, row) in img.chunks_exact_mut(self.w.max(1)).enumerate() {
                    flat.lift(y, row);
                }
            }
        }
        self.flatten(img, floor)
    }

    /// The divisors of [`flatten`](Self::flatten) a row at a time, for
    /// any number of images at once: each row of the profile is made
    /// once. `None` when the profile is not positive anywhere.
    pub(crate) fn flat_rows(&self, floor: f32) -> Option<FlatRows<'_>> {
        let max = self.max();
        if max.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || self.small.is_empty() {
            return None;
        }
        Some(FlatRows {
            rows: ProfileRows::new(self),
            pedestal: self.pedestal.as_deref().map(ProfileRows::new),
            dark: self.dark,
            max,
            floor,
            divisor: vec![0f32; self.w],
            h: self.h,
        })
    }
}

/// Row-at-a-time flat-field division ([`LargeScale::flat_rows`]).
pub(crate) struct FlatRows<'a> {
    rows: ProfileRows<'a>,
    pedestal: Option<ProfileRows<'a>>,
    dark: f32,
    max: f32,
    floor: f32,
    divisor: Vec<f32>,
    h: usize,
}

impl FlatRows<'_> {
    /// Row y of the profile's own stain (DAPI): the pedestal added, so
    /// that once [`divide`](Self::divide) has taken the dark level off,
    /// its dark level is exchanged for the pedestal, as the profile's was
    /// (nothing for a plain mean).
    pub(crate) fn lift(&mut self, y: usize, data: &mut [f32]) {
        if y >= self.h {
            return;
        }
        if let Some(p) = self.pedestal.as_mut() {
            for (v, &q) in data.iter_mut().zip(p.row(y)) {
                *v += q;
            }
        }
    }

    /// Takes the dark level off row y of each of `rows` (rows of the
    /// profile's width; nothing for a plain mean) and divides it by the
    /// profile normalised to its maximum and floored — BaSiC's
    /// (I − D) / S (Peng et al. 2017): the camera's offset is not light,
    /// and divided with the light it would rise wherever the profile
    /// dips (a dim tile, a sparse patch) and sink where it swells (a
    /// follicle's dense nuclei), a pattern at the follicles' own scale
    /// that the background removal cannot take away. The arithmetic of
    /// [`LargeScale::flatten`]. Rows taken in order cost one profile row
    /// each, whatever the number of images.
    pub(crate) fn divide<const N: usize>(&mut self, y: usize, rows: [&mut [f32]; N]) {
        if y >= self.h {
            return;
        }
        divisors(&mut self.divisor, self.rows.row(y), self.max, self.floor);
        for data in rows {
            if self.dark == 0.0 {
                divide_by(data, &self.divisor);
            } else {
                divide_above(data, &self.divisor, self.dark);
            }
        }
    }
}

/// `d[x] = (p[x] / max).max(floor)`: a flat-field divisor row. Compiled
/// also for AVX2 and AVX-512, chosen at run time (a division and a
/// maximum per sample, the same bits in every version; no version fuses
/// anything).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
fn divisors(d: &mut [f32], p: &[f32], max: f32, floor: f32) {
    for (d, &p) in d.iter_mut().zip(p) {
        *d = (p / max).max(floor);
    }
}

/// `data[x] /= d[x]`, compiled also for AVX2 and AVX-512 (as
/// [`divisors`]).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
fn divide_by(data: &mut [f32], d: &[f32]) {
    for (v, &d) in data.iter_mut().zip(d) {
        *v /= d;
    }
}

/// `data[x] = (data[x] − dark) / d[x]`, compiled also for AVX2 and
/// AVX-512 (as [`divisors`]).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
fn divide_above(data: &mut [f32], d: &[f32], dark: f32) {
    for (v, &d) in data.iter_mut().zip(d) {
        *v = (*v - dark) / d;
    }
}

/// `out[x] = top[x] · (1 − t) + bottom[x] · t`: a row between two
/// profile rows. Compiled also for AVX2 and AVX-512 (two multiplies and
/// an add per sample, never fused: the same bits in every version).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx2", "x86_64+avx2"))]
fn blend(out: &mut [f32], top: &[f32], bottom: &[f32], t: f32) {
    for ((o, &a), &b) in out.iter_mut().zip(top).zip(bottom) {
        *o = a * (1.0 - t) + b * t;
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
            xs: ls.axis(ls.origin.0, ls.w, ls.sw),
            ys: ls.axis(ls.origin.1, ls.h, ls.sh),
            row: vec![0f32; ls.w],
            top: vec![0f32; ls.w],
            bottom: vec![0f32; ls.w],
            have_top: usize::MAX,
            have_bottom: usize::MAX,
        }
    }

    /// Profile row j interpolated along x into `line`.
    fn along_x(&self, j: usize, line: &mut [f32]) {
        interpolate_x(self.ls, &self.xs, j, line);
    }

    /// Row y (< the profile's height; the profile is not empty).
    fn row(&mut self, y: usize) -> &[f32] {
        let (ls, xs) = (self.ls, &self.xs);
        let along_x = |j: usize, line: &mut [f32]| interpolate_x(ls, xs, j, line);
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
        blend(&mut self.row, &self.top, &self.bottom, ty);
        &self.row
    }
}

/// Profile row j of `ls` interpolated along x (weights `xs`) into `line`.
fn interpolate_x(ls: &LargeScale, xs: &[(usize, usize, f32)], j: usize, line: &mut [f32]) {
    let a = &ls.small[j * ls.sw..(j + 1) * ls.sw];
    for (o, &(x0, x1, tx)) in line.iter_mut().zip(xs) {
        *o = a[x0] * (1.0 - tx) + a[x1] * tx;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    /// Whole-image forms of the profile, for the tests here and in the
    /// modules that stream it.
    impl LargeScale {
        /// Calls `f(y, row)` with each full-resolution row of the mean, in
        /// order (see [`ProfileRows`]).
        pub(crate) fn rows(&self, mut f: impl FnMut(usize, &[f32])) {
            if self.small.is_empty() {
                return;
            }
            let mut rows = ProfileRows::new(self);
            for y in 0..self.h {
                f(y, rows.row(y));
            }
        }

        /// The mean as a full-resolution image.
        pub(crate) fn to_image(&self) -> FloatImage {
            let mut out = FloatImage::new(self.w as u32, self.h as u32);
            let (w, data): (usize, &mut [f32]) = (self.w, &mut out);
            self.rows(|y, row| data[y * w..(y + 1) * w].copy_from_slice(row));
            out
        }

        /// [`flatten`](Self::flatten) a row at a time: `f(y, row)` divides row
        /// y (of this profile's width) in place, rows taken in order, so the
        /// step can run as each row is made. `None` when the profile is not
        /// positive anywhere (flattening leaves the image as it is).
        pub(crate) fn row_flattener(
            &self,
            floor: f32,
        ) -> Option<impl FnMut(usize, &mut [f32]) + '_> {
            let mut rows = self.flat_rows(floor)?;
            Some(move |y: usize, data: &mut [f32]| rows.divide(y, [data]))
        }
    }

    /// The large-scale mean (see [`LargeScale`]) as a full-resolution image.
    fn large_scale_mean(img: &FloatImage, sigma_px: f64) -> FloatImage {
        LargeScale::of(img, sigma_px).to_image()
    }

    /// Flat-field correction: divides each image, in place, by `profile`
    /// (normalised to its maximum, floored at `floor`). With the
    /// [`large_scale_mean`] of a stain present everywhere (DAPI) as profile,
    /// that is the illumination.
    fn flat_field(images: &mut [FloatImage], profile: &FloatImage, floor: f32) {
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
        use crate::segment::smooth::{smooth, smooth_samples_then};
        let mut rng = crate::synth::Rng::new(12);
        let (w, h) = (67u32, 45u32);
        let dapi = FloatImage::from_fn(w, h, |x, _| Luma([20.0 + x as f32 + rng.unit() as f32]));
        let pcad = FloatImage::from_fn(w, h, |_, y| Luma([5.0 + y as f32 * rng.unit() as f32]));
        let ls = LargeScale::of(&dapi, 9.0);
        let mut want = smooth(&pcad, 1.5);
        let mut by_profile = [want.clone()];
        ls.flatten(&mut want, 0.2);
        let mut flat = ls.row_flattener(0.2).unwrap();
        let got = smooth_samples_then(pcad.as_raw(), w, h, 1.5, |y, made| {
            flat(y, &mut made[y * w as usize..]);
        });
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
        use crate::segment::smooth::{smooth, smooth_samples_then};
        let mut rng = crate::synth::Rng::new(29);
        for (w, h, sigma) in [(91u32, 57u32, 13.0), (40, 64, 50.0), (7, 5, 2.0)] {
            let img = FloatImage::from_fn(w, h, |x, _| Luma([x as f32 + 50.0 * rng.unit() as f32]));
            let want = LargeScale::of(&smooth(&img, 0.8), sigma);
            let mut rows = LargeScaleRows::new(w as usize, h as usize, sigma);
            let _ = smooth_samples_then(img.as_raw(), w, h, 0.8, |y, made| {
                rows.row(y, &made[y * w as usize..]);
            });
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
    /// Parts holding only their cores' blocks, merged into the whole in
    /// any order, give the whole image's profile, bit for bit.
    #[test]
    fn parts_holding_their_blocks_merge_into_the_whole() {
        let mut rng = crate::synth::Rng::new(31);
        let (w, h, sigma) = (97usize, 66usize, 20.0);
        let img: Vec<f32> = (0..w * h)
            .map(|i| (i % w) as f32 + 40.0 * rng.unit() as f32)
            .collect();
        let mut whole = LargeScaleRows::illumination(w, h, sigma, 60.0);
        for (y, row) in img.chunks(w).enumerate() {
            whole.row(y, row);
        }
        let want = whole.finish();
        let k = LargeScaleRows::block_side(w, h, sigma);
        let cuts = |n: usize| [0, 2 * k, 5 * k, n];
        let mut parts = Vec::new();
        for xs in cuts(w).windows(2) {
            for ys in cuts(h).windows(2) {
                let core = (xs[0], xs[1], ys[0], ys[1]);
                let mut part = LargeScaleRows::illumination(w, h, sigma, 60.0).held_to(core);
                for y in ys[0]..ys[1] {
                    part.part(y, xs[0], &img[y * w + xs[0]..y * w + xs[1]]);
                }
                assert_eq!(
                    part.small.len(),
                    (xs[1] - xs[0]).div_ceil(k) * (ys[1] - ys[0]).div_ceil(k)
                );
                parts.push(part);
            }
        }
        parts.reverse();
        let mut merged = LargeScaleRows::illumination(w, h, sigma, 60.0);
        for part in &parts {
            merged.merge(part);
        }
        let got = merged.finish();
        let bits = |i: &FloatImage| i.as_raw().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got.to_image()), bits(&want.to_image()));
        assert_eq!(got.dark().to_bits(), want.dark().to_bits());
    }
    /// The pruned maximum equals folding every full-resolution row, for
    /// smooth and rough profiles, negative and all-negative ones (0), and
    /// profiles one block high or wide.
    /// A window reads back the whole profile's values at its pixels,
    /// bit for bit, and flattens with the whole profile's maximum.
    #[test]
    fn window_reads_the_whole_profile() {
        let mut rng = crate::synth::Rng::new(5);
        let (w, h) = (173u32, 121u32);
        let img = FloatImage::from_fn(w, h, |x, y| {
            Luma([100.0 + (x as f32 * 0.05).sin() * 30.0 + y as f32 * 0.2 + rng.unit() as f32])
        });
        let ls = LargeScale::of(&img, 20.0);
        let whole = ls.to_image();
        for (x0, y0, cw, ch) in [
            (0, 0, 173, 121),
            (13, 7, 50, 61),
            (100, 90, 73, 31),
            (5, 0, 1, 1),
        ] {
            let win = ls.window(x0, y0, cw, ch);
            assert_eq!(win.max().to_bits(), ls.max().to_bits());
            let part = win.to_image();
            for (x, y, v) in part.enumerate_pixels() {
                let want = whole.get_pixel(x + x0 as u32, y + y0 as u32)[0];
                assert_eq!(v[0].to_bits(), want.to_bits(), "({x0},{y0}) at ({x},{y})");
            }
            // A window of a window is the window of the sum of offsets.
            let inner = win.window(1, 0, cw.saturating_sub(1), ch).to_image();
            let direct = ls.window(x0 + 1, y0, cw.saturating_sub(1), ch).to_image();
            assert_eq!(inner, direct);
        }
    }

    #[test]
    fn full_max_equals_folding_every_row() {
        let mut rng = crate::synth::Rng::new(12);
        for (sw, sh, k, shift) in [
            (9usize, 7usize, 12usize, 0.0f32),
            (5, 11, 7, -0.5),
            (1, 6, 10, 0.0),
            (8, 1, 10, 0.0),
            (6, 6, 3, -2.0),
            (20, 14, 12, 0.0),
        ] {
            for rough in [false, true] {
                let small: Vec<f32> = (0..sw * sh)
                    .map(|i| {
                        let smooth = ((i % sw) as f32 * 0.3).sin() + ((i / sw) as f32 * 0.2).cos();
                        let noise = if rough { rng.unit() as f32 } else { 0.0 };
                        (smooth + noise + shift) * 100.0
                    })
                    .collect();
                let (w, h) = (sw * k - k / 3, sh * k + 1);
                let ls = LargeScale {
                    small: small.into(),
                    k,
                    sw,
                    sh,
                    w,
                    h,
                    origin: (0, 0),
                    max: 0.0,
                    dark: 0.0,
                    pedestal: None,
                };
                let mut want = 0f32;
                ls.rows(|_, row| want = row.iter().cloned().fold(want, f32::max));
                assert_eq!(
                    ls.full_max().to_bits(),
                    want.to_bits(),
                    "{sw}×{sh} k{k} shift {shift}"
                );
            }
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
            let (xs, ys) = (ls.axis(0, ls.w, ls.sw), ls.axis(0, ls.h, ls.sh));
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

    /// A DAPI-like image: `offset` plus `bright(x)` × 100 in nuclei
    /// (5 × 5 px squares at random places, a quarter of the area), then
    /// smoothed a little as the pipeline smooths DAPI.
    fn nuclei_image(w: usize, h: usize, offset: f32, bright: impl Fn(usize) -> f32) -> FloatImage {
        let mut rng = crate::synth::Rng::new(17);
        let mut img = FloatImage::from_pixel(w as u32, h as u32, image::Luma([offset]));
        for _ in 0..w * h / 100 {
            let (cx, cy) = (
                (rng.unit() * w as f64) as usize,
                (rng.unit() * h as f64) as usize,
            );
            for y in cy..(cy + 5).min(h) {
                for x in cx..(cx + 5).min(w) {
                    img.put_pixel(
                        x as u32,
                        y as u32,
                        image::Luma([offset + 100.0 * bright(x)]),
                    );
                }
            }
        }
        let mut out = FloatImage::new(w as u32, h as u32);
        crate::segment::gaussian::blur(img.as_raw(), &mut out, w, h, 1.0);
        out
    }

    /// The values in columns `xs`, sorted.
    fn sorted_in(img: &FloatImage, xs: std::ops::Range<usize>) -> Vec<f32> {
        let w = img.width() as usize;
        let mut v: Vec<f32> = img
            .as_raw()
            .iter()
            .enumerate()
            .filter(|(i, _)| xs.contains(&(i % w)))
            .map(|(_, &v)| v)
            .collect();
        v.sort_by(f32::total_cmp);
        v
    }

    /// The spread of the values in columns `xs` (95th − 5th percentile):
    /// how far nuclei stand above the background there.
    fn contrast(img: &FloatImage, xs: std::ops::Range<usize>) -> f32 {
        let v = sorted_in(img, xs);
        v[v.len() * 95 / 100] - v[v.len() * 5 / 100]
    }

    /// The background in columns `xs` (the 5th percentile).
    fn background(img: &FloatImage, xs: std::ops::Range<usize>) -> f32 {
        let v = sorted_in(img, xs);
        v[v.len() * 5 / 100]
    }

    /// Two "tiles" of one mosaic, one at a fifth of the other's
    /// brightness, with one camera offset: after the illumination
    /// profile (above the dark level, with its pedestal) both tiles'
    /// nuclei stand equally far above their background, in the stain
    /// itself and in any channel; after the plain mean, offset included,
    /// the dim tile's stand at a third or less. Another channel from the
    /// same camera has its offset taken off before the division, so its
    /// background is as low in the dim tile as in the bright one (divided
    /// with the light, the offset stands five times higher in the dim
    /// tile).
    #[test]
    fn a_dim_tile_is_corrected_as_a_bright_one_above_the_dark_level() {
        let (w, h, offset) = (480, 160, 90.0);
        let img = nuclei_image(w, h, offset, |x| if x < w / 2 { 1.0 } else { 0.2 });
        let ill = LargeScale::illumination(&img, 12.0, 48.0);
        assert!((ill.dark() - offset).abs() < 1.0, "dark {}", ill.dark());
        let mut stain = img.clone();
        ill.flatten_stain(&mut stain, 0.05);
        // Another channel of the same tiles and camera.
        let other_raw = nuclei_image(w, h, offset, |x| if x < w / 2 { 1.0 } else { 0.2 });
        let mut other = other_raw.clone();
        ill.flatten(&mut other, 0.05);
        let (left, right) = (background(&other, 16..120), background(&other, 360..464));
        let nuclei = contrast(&other, 16..120);
        assert!(
            (right - left).abs() < 0.1 * nuclei,
            "{left} {right} {nuclei}"
        );
        // The offset divided with the light: the dim tile's background
        // stands far above the bright one's.
        let mut with_offset = other_raw;
        let no_dark = LargeScale {
            dark: 0.0,
            ..ill.clone()
        };
        no_dark.flatten(&mut with_offset, 0.05);
        let (l, r) = (
            background(&with_offset, 16..120),
            background(&with_offset, 360..464),
        );
        assert!(r - l > nuclei, "{l} {r} {nuclei}");
        // Away from the step (the profile's σ and the pedestal's).
        for (name, img) in [("stain", &stain), ("other", &other)] {
            let (left, right) = (contrast(img, 16..120), contrast(img, 360..464));
            assert!((right / left - 1.0).abs() < 0.15, "{name}: {left} {right}");
        }
        let plain = LargeScale::of(&img, 12.0);
        let mut old = img.clone();
        plain.flatten(&mut old, 0.05);
        let (l, r) = (contrast(&old, 16..120), contrast(&old, 360..464));
        assert!(r < l / 3.0, "{l} {r}");
    }

    /// A field of even brightness: away from its edges the illumination
    /// profile is the plain mean within 4 % on average and 12 % at most
    /// (the pedestal puts the dark level back, following only the coarse
    /// density), so single fields are corrected much as before.
    #[test]
    fn an_even_field_keeps_its_plain_profile() {
        let (w, h, offset) = (480, 480, 90.0);
        let img = nuclei_image(w, h, offset, |_| 1.0);
        let ill = LargeScale::illumination(&img, 12.0, 48.0);
        let plain = LargeScale::of(&img, 12.0);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        ill.rows(|_, row| a.extend_from_slice(row));
        plain.rows(|_, row| b.extend_from_slice(row));
        let inner = |i: usize| (96..w - 96).contains(&(i % w)) && (96..h - 96).contains(&(i / w));
        let dev: Vec<f32> = a
            .iter()
            .zip(&b)
            .enumerate()
            .filter(|(i, _)| inner(*i))
            .map(|(_, (x, y))| (x / y - 1.0).abs())
            .collect();
        let mean = dev.iter().sum::<f32>() / dev.len() as f32;
        let max = dev.iter().cloned().fold(0.0, f32::max);
        assert!(mean < 0.04 && max < 0.12, "mean {mean} max {max}");
        // Without an offset there is no dark level to exchange.
        let zero = nuclei_image(w, h, 0.0, |_| 1.0);
        assert_eq!(LargeScale::illumination(&zero, 12.0, 48.0).dark(), 0.0);
    }

    /// The dark level is the 1st percentile of the blocks' least values
    /// (brute force: sort them).
    #[test]
    fn the_dark_level_is_a_percentile_of_block_minima() {
        let mut rng = crate::synth::Rng::new(3);
        for n in [1usize, 7, 100, 1001] {
            let v: Vec<f32> = (0..n).map(|_| (rng.unit() * 500.0) as f32).collect();
            let mut sorted = v.clone();
            sorted.sort_by(f32::total_cmp);
            let want = sorted[((n - 1) as f64 * DARK_PERCENTILE / 100.0).round() as usize];
            assert_eq!(dark_level(&v), want);
        }
        assert_eq!(dark_level(&[f32::INFINITY, -3.0]), 0.0);
        assert_eq!(dark_level(&[]), 0.0);
    }
}
