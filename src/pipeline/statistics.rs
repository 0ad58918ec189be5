//! What a block of a plane cannot find for itself — the whole plane's
//! statistics — found from the field in memory ([`PlaneStatistics::of`])
//! or a window at a time ([`PlaneStatistics::of_windows`]), to the same
//! bits.
//!
//! Read a window at a time, the plane is gone over in four passes, each
//! needing the one before: the channels' ranges (the hot-pixel test's
//! scale); the illumination profile (from DAPI, hot pixels out and
//! smoothed); the corrected channels' ranges (a histogram's span); their
//! histograms (the thresholds). Each pass keeps only the sums of what
//! each block's core holds: minima and maxima, block sums of the
//! profile, bin counts. A stitched plane with local thresholds bins its
//! cells on dyadic grids, which need no range first
//! ([`crate::segment::dyadic_histogram`]): three passes, the last
//! keeping each cell's threshold and the plane's histogram.

use rayon::prelude::*;

use super::blocks::{Blocks, OnBlock, Ticker};
use super::channels::{
    channel_ranges, channel_without_hot_pixels, illumination_rows, smooth_dapi, threshold_and_map,
    threshold_cells, threshold_of, without_hot_pixels, Correction, Prepared,
};
use super::Scale;
use crate::error::LoadError;
use crate::io::{Field, WindowSource};
use crate::params::Params;
use crate::segment::dyadic_histogram::DyadicHistogram;
use crate::segment::flat_field::{LargeScale, LargeScaleRows};
use crate::segment::threshold::{range, Histogram, Method};
use crate::segment::threshold_map::{CellHistograms, Cells, ThresholdMap};
use crate::segment::window::Window;

/// What a block of a plane cannot find for itself: the whole plane's
/// statistics.
#[derive(Clone, Debug)]
pub struct PlaneStatistics {
    /// Each channel's least and greatest raw sample (P-cadherin, Sox9,
    /// DAPI; file units).
    pub ranges: [(f32, f32); 3],
    /// The illumination profile (with a flat field).
    pub illumination: Option<LargeScale>,
    /// The thresholds of P-cadherin, Sox9, DAPI (smoothed, corrected
    /// units).
    pub thresholds: [f32; 3],
    /// Their local thresholds, for a stitched plane
    /// ([`crate::segment::threshold_map`]; `None`: none).
    pub local: [Option<ThresholdMap>; 3],
}

impl PlaneStatistics {
    /// The statistics of a field in memory: what its analysis as a
    /// whole finds (the recipe's first stages).
    pub fn of(field: &Field, p: &Params) -> PlaneStatistics {
        let ranges = channel_ranges(field);
        let methods = [p.threshold_pcad, p.threshold_sox9, p.threshold_dapi];
        let scale = Scale::of(field);
        let cells = threshold_cells(field.width, field.height, p, scale);
        let mut thresholds = [0f32; 3];
        let mut local = [None, None, None];
        let illumination = prepare(field, ranges, None, p, scale, &mut |c, ch| {
            (thresholds[c], local[c]) = match cells {
                Some(cells) => threshold_and_map(ch, methods[c], cells),
                None => (threshold_of(ch, methods[c]), None),
            };
        });
        PlaneStatistics {
            ranges,
            illumination,
            thresholds,
            local,
        }
    }

    /// The statistics of the plane `src`, read a window at a time (cores
    /// of at most `core_px` (at least the profile's block), grown by the
    /// overlap `p` needs, in parallel):
    /// the same bits as [`of`](Self::of) the whole field; `on_block` is
    /// told of each block done. The noise threshold (a median) needs the
    /// plane whole: refused.
    pub fn of_windows(
        src: &impl WindowSource,
        p: &Params,
        core_px: usize,
        on_block: OnBlock,
    ) -> Result<PlaneStatistics, LoadError> {
        let methods = [p.threshold_pcad, p.threshold_sox9, p.threshold_dapi];
        if methods.iter().any(|m| matches!(m, Method::Noise(_))) {
            return Err(LoadError::Unsupported(
                "the noise threshold needs the whole plane; give this plane's \
                 channels Otsu, Li, Triangle or a fixed threshold"
                    .into(),
            ));
        }
        let passes = Passes::new(src, p, core_px, on_block);
        let ranges = passes.ranges()?;
        let illumination = passes.illumination(ranges)?;
        let stats = PlaneStatistics {
            ranges,
            illumination,
            thresholds: [0.0; 3],
            local: [None, None, None],
        };
        let (thresholds, local) = match passes.cells {
            Some(cells) => passes.cell_thresholds(&stats, cells)?,
            None => (passes.plane_thresholds(&stats)?, [None, None, None]),
        };
        Ok(PlaneStatistics {
            thresholds,
            local,
            ..stats
        })
    }

    /// The illumination profile of the block `at` (its window of the
    /// plane's; `None` without a flat field).
    pub(super) fn illumination_of(&self, at: &Window) -> Option<LargeScale> {
        let ill = self.illumination.as_ref()?;
        Some(ill.window(at.origin.0, at.origin.1, at.size.0, at.size.1))
    }

    /// `p` with these thresholds fixed.
    pub(super) fn fixing(&self, p: &Params) -> Params {
        let [pcad, sox9, dapi] = self.thresholds.map(Method::Fixed);
        Params {
            threshold_pcad: pcad,
            threshold_sox9: sox9,
            threshold_dapi: dapi,
            ..p.clone()
        }
    }
}

/// The passes over a plane read a window at a time, each keeping only
/// sums of what each core holds.
struct Passes<'a, S: WindowSource> {
    src: &'a S,
    p: &'a Params,
    scale: Scale,
    /// P-cadherin's, Sox9's and DAPI's threshold methods.
    methods: [Method; 3],
    /// The local thresholds' cells, if any.
    cells: Option<Cells>,
    /// The cores with no overlap (ranges), with the smoothed channels'
    /// (profile) and with the corrected channels' (thresholds).
    cores: Vec<Window>,
    smoothed: Vec<Window>,
    corrected: Vec<Window>,
    /// The progress display's name of each pass.
    stages: Vec<String>,
    on_block: OnBlock<'a>,
}

impl<'a, S: WindowSource> Passes<'a, S> {
    /// The passes over `src` in cores of at most `core_px`.
    fn new(src: &'a S, p: &'a Params, core_px: usize, on_block: OnBlock<'a>) -> Self {
        let (w, h) = src.size();
        let scale = Scale {
            um_per_px: src.pixel_size_um(),
        };
        // Cores on the profile's block boundaries, so that each block of
        // the profile is summed by one core, in the whole plane's order;
        // and on the local thresholds' cells (whole blocks of the
        // profile), so that each core holds whole cells.
        let cells = threshold_cells(w, h, p, scale);
        let k = cells.map_or_else(
            || LargeScaleRows::block_side(w, h, scale.px(p.flat_field_sigma_um)),
            |c| c.cell_px,
        );
        let core_px = (core_px / k).max(1) * k;
        // Each pass reads its blocks with the overlap its values need:
        // the hot-pixel test and smoothing for the profile, and the
        // background's opening too for the corrected channels.
        let reach = Reach::of(p, scale);
        let windows_with = |overlap_px: usize| {
            Blocks {
                core_px,
                overlap_px,
            }
            .windows(w, h)
        };
        // A stitched plane's cells need no pass for the corrected
        // channels' range.
        let passes = if cells.is_some() { 3 } else { 4 };
        Passes {
            src,
            p,
            scale,
            methods: [p.threshold_pcad, p.threshold_sox9, p.threshold_dapi],
            cells,
            cores: windows_with(0),
            smoothed: windows_with(reach.smoothed),
            corrected: windows_with(reach.corrected),
            stages: (1..=passes)
                .map(|k| format!("statistics {k}/{passes}"))
                .collect(),
            on_block,
        }
    }

    /// The window `at` of the plane.
    fn read(&self, at: &Window) -> Result<Field, LoadError> {
        self.src
            .window(at.origin.0, at.origin.1, at.size.0, at.size.1)
    }

    /// Pass `k`'s progress, over `windows`.
    fn ticker(&self, k: usize, windows: &[Window]) -> Ticker<'_> {
        Ticker::new(&self.stages[k - 1], windows.len(), self.on_block)
    }

    /// Pass `k` over the corrected channels ([`prepare`]): `each(at, c,
    /// channel, found)` adds what the core of block `at` holds of channel
    /// `c` to its `found` (from `empty`); the cores' findings are folded
    /// by `fold`.
    fn over_corrected<T: Send>(
        &self,
        k: usize,
        stats: &PlaneStatistics,
        empty: impl Fn() -> T + Sync + Send,
        each: impl Fn(&Window, usize, &Prepared, &mut T) + Sync,
        fold: impl Fn(T, T) -> T + Sync + Send,
    ) -> Result<T, LoadError> {
        let ticker = self.ticker(k, &self.corrected);
        self.corrected
            .par_iter()
            .map(|at| {
                let field = self.read(at)?;
                let illumination = Some(stats.illumination_of(at));
                let mut found = empty();
                prepare(
                    &field,
                    stats.ranges,
                    illumination,
                    self.p,
                    self.scale,
                    &mut |c, ch| each(at, c, ch, &mut found),
                );
                field.recycle();
                ticker.tick();
                Ok(found)
            })
            .try_reduce(&empty, |a, b| Ok(fold(a, b)))
    }

    /// Pass 1: each channel's range (the core alone: no neighbour
    /// needed).
    fn ranges(&self) -> Result<[(f32, f32); 3], LoadError> {
        let ticker = self.ticker(1, &self.cores);
        self.cores
            .par_iter()
            .map(|at| {
                let field = self.read(at)?;
                let found = channel_ranges(&field);
                field.recycle();
                ticker.tick();
                Ok(found)
            })
            .try_reduce(
                || [(f32::INFINITY, f32::NEG_INFINITY); 3],
                |a, b| Ok(widest(a, b)),
            )
    }

    /// Pass 2: the illumination profile (with a flat field): each core's rows
    /// of smoothed DAPI. Each core's sums hold its own blocks, added to
    /// the plane's as it is done (each block is one core's: the order
    /// does not change a bit).
    fn illumination(&self, ranges: [(f32, f32); 3]) -> Result<Option<LargeScale>, LoadError> {
        if !self.p.flat_field {
            return Ok(None);
        }
        let (w, h) = self.src.size();
        let profile = || illumination_rows(w, h, self.p, self.scale);
        let ticker = self.ticker(2, &self.smoothed);
        let sums = std::sync::Mutex::new(profile());
        self.smoothed.par_iter().try_for_each(|at| {
            let field = self.read(at)?;
            let dapi = channel_without_hot_pixels(&field.channels[2], ranges[2]);
            let (smoothed, _) = smooth_dapi(&dapi, self.p, self.scale, Some(None));
            if let std::borrow::Cow::Owned(copy) = dapi {
                copy.recycle();
            }
            let dapi = smoothed;
            field.recycle();
            let mut part = profile().held_to(at.core);
            for_core_rows(&dapi.plane, at, |y, x, row| part.part(y, x, row));
            crate::pool::give_image(dapi.plane);
            sums.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .merge(&part);
            ticker.tick();
            Ok::<_, LoadError>(())
        })?;
        let sums = sums
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(Some(sums.finish()))
    }

    /// Pass 3 of 3: each cell's histogram of the corrected channels, and its
    /// own threshold (a core holds whole cells); the plane's histogram is
    /// their sum (dyadic bins need no range first). The thresholds and
    /// the local thresholds' maps.
    fn cell_thresholds(
        &self,
        stats: &PlaneStatistics,
        cells: Cells,
    ) -> Result<([f32; 3], [Option<ThresholdMap>; 3]), LoadError> {
        let found = self.over_corrected(
            3,
            stats,
            || [(); 3].map(|_| (DyadicHistogram::new(), Vec::new())),
            |at, c, ch, found| {
                let mut each = CellHistograms::new(cells);
                each.add_rows(at.core.2, at.core.0, &core_rows(&ch.plane, at));
                found[c] = (each.total(), each.cell_thresholds(self.methods[c]));
            },
            |mut a, b| {
                for ((plane_a, own_a), (plane_b, own_b)) in a.iter_mut().zip(b) {
                    plane_a.merge(&plane_b);
                    gather(own_a, own_b);
                }
                a
            },
        )?;
        let thresholds = thresholds_by(self.methods, |c, m| found[c].0.threshold(m));
        let local = std::array::from_fn(|c| {
            ThresholdMap::new(cells, &found[c].1, self.methods[c], thresholds[c])
        });
        Ok((thresholds, local))
    }

    /// Passes 3 and 4 of 4: the corrected channels' ranges (their histograms'
    /// span), then their histograms: the thresholds.
    fn plane_thresholds(&self, stats: &PlaneStatistics) -> Result<[f32; 3], LoadError> {
        let spans = self.over_corrected(
            3,
            stats,
            || [(f32::INFINITY, f32::NEG_INFINITY); 3],
            |at, c, ch, found| {
                for row in core_rows(&ch.plane, at) {
                    let (l, h) = range(row);
                    found[c] = (found[c].0.min(l), found[c].1.max(h));
                }
            },
            widest,
        )?;
        let hists = self.over_corrected(
            4,
            stats,
            || spans.map(Histogram::new),
            |at, c, ch, hists| hists[c].add_rows(&core_rows(&ch.plane, at)),
            |mut a, b| {
                for (a, b) in a.iter_mut().zip(&b) {
                    a.merge(b);
                }
                a
            },
        )?;
        Ok(thresholds_by(self.methods, |c, m| hists[c].threshold(m)))
    }
}

/// The three channels of `field` (a whole field, or a block of a plane)
/// as the recipe corrects them before their thresholds, handed to `f`
/// with their index (P-cadherin 0, Sox9 1, DAPI 2) one at a time: hot
/// pixels out (on the scale of `ranges`), smoothed, flat-fielded by the
/// profile `known` (a block's window of its plane's) or by their own
/// (`None`), background removed. Returns the profile used.
fn prepare(
    field: &Field,
    ranges: [(f32, f32); 3],
    known: Option<Option<LargeScale>>,
    p: &Params,
    scale: Scale,
    f: &mut dyn FnMut(usize, &Prepared),
) -> Option<LargeScale> {
    let field = without_hot_pixels(field, Some(ranges));
    let [pcad, sox9, dapi] = &field.channels;
    let (mut dapi, illumination) = smooth_dapi(dapi, p, scale, known);
    let correction = Correction {
        illumination: illumination.as_ref(),
        params: p,
        scale,
    };
    let pcad = correction.apply(pcad, p.pcad_sigma_um, Some(&mut dapi));
    f(0, &pcad);
    crate::pool::give_image(pcad.plane);
    f(2, &dapi);
    crate::pool::give_image(dapi.plane);
    let sox9 = correction.apply(sox9, p.nucleus_sigma_um, None);
    f(1, &sox9);
    crate::pool::give_image(sox9.plane);
    if let std::borrow::Cow::Owned(copy) = field {
        copy.recycle();
    }
    illumination
}

/// How far, px, the values a pass needs at a pixel reach into its
/// neighbours (a block read with this much around its core has its
/// core's values as the whole plane gives them).
struct Reach {
    /// Smoothed DAPI, hot pixels out: the hot-pixel test (a pixel and
    /// its neighbours' neighbours, 2 px) and the smoothing kernel
    /// (⌈2σ⌉).
    smoothed: usize,
    /// The corrected channels: that, the wider smoothing of P-cadherin,
    /// and the background (the top-hat's opening, 2 radii; a Gaussian
    /// background's kernel).
    corrected: usize,
}

impl Reach {
    fn of(p: &Params, scale: Scale) -> Reach {
        let kernel = |sigma_um: f64| (2.0 * scale.px(sigma_um)).ceil() as usize;
        let radius = scale.px(p.effective_background_radius_um());
        let background = match p.background {
            crate::segment::background::Method::TopHat => 2 * radius.round().max(1.0) as usize,
            crate::segment::background::Method::Gaussian => (2.0 * radius).ceil() as usize,
            crate::segment::background::Method::None => 0,
        };
        let margin = 2 + 2;
        let smoothed = margin + kernel(p.nucleus_sigma_um);
        Reach {
            smoothed,
            corrected: smoothed.max(margin + kernel(p.pcad_sigma_um)) + background,
        }
    }
}

/// Each row of a block's plane within its core, as (plane row, plane
/// column of the first pixel, the pixels).
fn for_core_rows<'a>(
    plane: &'a crate::FloatImage,
    at: &Window,
    mut f: impl FnMut(usize, usize, &'a [f32]),
) {
    let w = plane.width() as usize;
    let (ox, oy) = at.origin;
    let (x0, x1, y0, y1) = at.core;
    let data = plane.as_raw();
    for y in y0..y1 {
        let o = (y - oy) * w;
        if let Some(row) = data.get(o + x0 - ox..o + x1 - ox) {
            f(y, x0, row);
        }
    }
}

/// Each channel's threshold by its method: a fixed one as is, else
/// `by` the channel's histogram (+∞ when it finds none).
fn thresholds_by(methods: [Method; 3], by: impl Fn(usize, Method) -> Option<f32>) -> [f32; 3] {
    std::array::from_fn(|c| match methods[c] {
        Method::Fixed(v) => v,
        m => by(c, m).unwrap_or(f32::INFINITY),
    })
}

/// The rows of a block's plane within its core.
fn core_rows<'a>(plane: &'a crate::FloatImage, at: &Window) -> Vec<&'a [f32]> {
    let mut rows = Vec::new();
    for_core_rows(plane, at, |_, _, row| rows.push(row));
    rows
}

/// The cells' own thresholds found by another part into `into` (each
/// cell is one part's: a core holds whole cells).
fn gather(into: &mut Vec<Option<f32>>, other: Vec<Option<f32>>) {
    if into.is_empty() {
        *into = other;
        return;
    }
    for (a, b) in into.iter_mut().zip(other) {
        if b.is_some() {
            *a = b;
        }
    }
}

/// The widest of two sets of channel ranges.
fn widest(a: [(f32, f32); 3], b: [(f32, f32); 3]) -> [(f32, f32); 3] {
    std::array::from_fn(|c| (a[c].0.min(b[c].0), a[c].1.max(b[c].1)))
}
