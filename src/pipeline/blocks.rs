//! A plane analysed in overlapping blocks, with the result of analysing
//! it whole: the block decomposition of large-image tools (the chunked,
//! overlapping "map_overlap" of dask-image and scikit-image's
//! `apply_parallel`; Gonzalez & Woods' local operators need only a
//! margin as wide as their footprint).
//!
//! - What no block can see is taken from the whole plane
//!   ([`PlaneStatistics`]): each channel's range (the hot-pixel test's
//!   scale), the illumination profile (read through a
//!   [`LargeScale::window`]) and the three thresholds.
//! - Each block is its core plus an overlap on every side wider than the
//!   filters' reach plus the largest follicle ([`Blocks::overlap_um`]),
//!   so every object whose centroid lies in the core is seen whole, with
//!   the pixel values of the whole plane.
//! - A block speaks for its core alone: the objects whose centroid lies
//!   in it, its Sox9+ nuclei, its blocks of tissue. The cores tile the
//!   plane, so each is counted once.
//! - The objects are numbered in raster order of their first pixel, as
//!   in a whole field.

use rayon::prelude::*;

use super::rule::{tally, Found};
use super::statistics::PlaneStatistics;
use super::{recipe, FieldAnalysis, Object, Scale};
use crate::error::LoadError;
use crate::io::WindowSource;
use crate::params::Params;
use crate::segment::flat_field::LargeScale;
use crate::segment::tissue::Occupancy;
use crate::segment::window::Window;
use crate::Labels;

/// How a plane is cut: cores of `core_px` × `core_px` (the last row and
/// column of cores cut short by the plane's edge), each grown by
/// `overlap_px` on every side (clipped to the plane).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocks {
    /// A core's side, px.
    pub core_px: usize,
    /// The margin around it, px.
    pub overlap_px: usize,
}

impl Blocks {
    /// Cores of `core_um` µm with the overlap `p` needs
    /// ([`overlap_um`](Self::overlap_um)), in pixels of `um_per_px` µm.
    pub fn for_params(p: &Params, um_per_px: f64, core_um: f64) -> Blocks {
        Blocks {
            core_px: (core_um / um_per_px).round().max(1.0) as usize,
            overlap_px: Self::overlap_px(p, um_per_px),
        }
    }

    /// [`overlap_um`](Self::overlap_um) in pixels of `um_per_px` µm (and
    /// 2 px to spare).
    pub fn overlap_px(p: &Params, um_per_px: f64) -> usize {
        (Self::overlap_um(p) / um_per_px).ceil() as usize + 2
    }

    /// The margin, µm, around a block's core within which every pixel
    /// value, mask and object the core needs is what the whole plane
    /// gives. The sum of:
    ///
    /// - the reach of the P-cadherin mask: smoothing (2σ), background
    ///   (the top-hat's opening, 2 radii; a Gaussian's kernel, 2σ), the
    ///   local maximum's radius, the opening (2 radii);
    /// - the reach of what is measured around an object: the contrast
    ///   ring, or a nucleus (10 µm) near its rim;
    /// - the largest follicle's reach from its centroid: the diameter of
    ///   a disc of `max_area_um2` (twice its radius: elongated ones reach
    ///   further than a disc).
    pub fn overlap_um(p: &Params) -> f64 {
        let background = 2.0 * p.effective_background_radius_um();
        let mask =
            2.0 * p.pcad_sigma_um + background + p.pcad_local_radius_um + 2.0 * p.open_radius_um;
        let around = p.contrast_ring_um.max(p.rim_um + 10.0);
        let reach = 2.0 * (p.max_area_um2 / std::f64::consts::PI).sqrt();
        mask + around + reach
    }

    /// The blocks of a `w` × `h` plane, in raster order
    /// ([`Window::tiling`]).
    pub fn windows(&self, w: usize, h: usize) -> Vec<Window> {
        Window::tiling(w, h, self.core_px, self.overlap_px)
    }
}

/// Told of each block finished: the stage (`"statistics 1/4"` …
/// `"statistics 4/4"`, or `"statistics 1/3"` … `"3/3"` with local
/// thresholds, then `"blocks"`), how many of its blocks are done
/// and how many it has — for a progress display on a single huge plane.
pub type OnBlock<'a> = &'a (dyn Fn(&str, usize, usize) + Sync);

/// Counts one stage's finished blocks (from any thread) for an
/// [`OnBlock`].
pub(super) struct Ticker<'a> {
    stage: &'a str,
    total: usize,
    done: std::sync::atomic::AtomicUsize,
    on_block: OnBlock<'a>,
}

impl<'a> Ticker<'a> {
    pub(super) fn new(stage: &'a str, total: usize, on_block: OnBlock<'a>) -> Ticker<'a> {
        Ticker {
            stage,
            total,
            done: std::sync::atomic::AtomicUsize::new(0),
            on_block,
        }
    }

    /// One more block done.
    pub(super) fn tick(&self) {
        let done = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        (self.on_block)(self.stage, done, self.total);
    }
}

/// One block of a plane, as the recipe sees it.
pub(super) struct Part<'a> {
    /// The whole plane's statistics.
    pub stats: &'a PlaneStatistics,
    /// Where the block lies.
    pub at: Window,
}

impl Part<'_> {
    /// The block's window of the plane's illumination profile (`None`:
    /// no flat field).
    pub fn illumination(&self) -> Option<LargeScale> {
        self.stats.illumination_of(&self.at)
    }
}

/// What one block speaks for.
struct Owned {
    /// Its objects, in plane pixels, with their first pixel (row,
    /// column).
    objects: Vec<((usize, usize), Object)>,
    /// Its Sox9+ nuclei.
    sox9_nuclei: u32,
    /// Its blocks of tissue.
    tissue: Occupancy,
}

/// Analyses the plane `src` in `blocks` (in parallel), with the
/// statistics of the whole plane: the analysis of the whole field when
/// `stats` are its own ([`PlaneStatistics::of`]) and the overlap is
/// enough ([`Blocks::overlap_um`]); `on_block` is told of each block
/// done. Fails when a window cannot be read.
pub fn analyze_in_blocks(
    src: &impl WindowSource,
    p: &Params,
    stats: &PlaneStatistics,
    blocks: Blocks,
    on_block: OnBlock,
) -> Result<FieldAnalysis, LoadError> {
    let fixed = stats.fixing(p);
    let (w, h) = src.size();
    let windows = blocks.windows(w, h);
    let ticker = Ticker::new("blocks", windows.len(), on_block);
    let parts: Vec<Owned> = windows
        .into_par_iter()
        .map(|at| {
            let (x0, y0) = at.origin;
            let crop = src.window(x0, y0, at.size.0, at.size.1)?;
            let seen = recipe(&crop, &fixed, false, Some(&Part { stats, at }));
            crop.recycle();
            let first = first_pixels(&seen.masks.candidates);
            crate::pool::give_image(seen.masks.candidates);
            let a = seen.analysis;
            let objects = a
                .follicles
                .into_iter()
                .chain(a.rejected)
                .filter(|o| at.owns(o.x, o.y))
                .map(|mut o| {
                    let (fy, fx) = first
                        .get(o.label as usize)
                        .copied()
                        .flatten()
                        .unwrap_or_default();
                    o.x += x0 as f64;
                    o.y += y0 as f64;
                    ((fy + y0, fx + x0), o)
                })
                .collect();
            ticker.tick();
            Ok(Owned {
                objects,
                sox9_nuclei: a.sox9_nuclei,
                tissue: seen.tissue,
            })
        })
        .collect::<Result<_, LoadError>>()?;
    Ok(join(src, parts, stats.thresholds))
}

/// The whole field's analysis from its blocks': the objects numbered in
/// raster order of their first pixel, the counts and tissue summed.
fn join(src: &impl WindowSource, parts: Vec<Owned>, thresholds: [f32; 3]) -> FieldAnalysis {
    let mut objects = Vec::new();
    let mut sox9_nuclei = 0u32;
    let mut tissue: Option<Occupancy> = None;
    for part in parts {
        objects.extend(part.objects);
        sox9_nuclei += part.sox9_nuclei;
        tissue
            .get_or_insert_with(|| part.tissue.empty_whole())
            .merge(&part.tissue);
    }
    objects.sort_by_key(|(first, _)| *first);
    let scale = Scale {
        um_per_px: src.pixel_size_um(),
    };
    let (w, h) = src.size();
    let tissue_px = tissue.map_or(0, |t| t.area_px());
    let found = Found {
        thresholds,
        sox9_nuclei: sox9_nuclei as usize,
        tissue_mm2: super::mm2_of(tissue_px, scale.um_per_px),
    };
    let numbered = objects.into_iter().zip(1..).map(|((_, mut o), label)| {
        o.label = label;
        o.id = 0;
        o
    });
    // (As the rule computes a whole field's area, to the bit.)
    let um = scale.um_per_px;
    tally(numbered, found, w as f64 * h as f64 * um * um / 1e6)
}

/// Each label's first pixel (row, column) in raster order (index: the
/// label; `None` for 0 and labels not present).
fn first_pixels(labels: &Labels) -> Vec<Option<(usize, usize)>> {
    let w = labels.width() as usize;
    let mut first: Vec<Option<(usize, usize)>> = Vec::new();
    for (i, &l) in labels.as_raw().iter().enumerate() {
        let l = l as usize;
        if l == 0 {
            continue;
        }
        if first.len() <= l {
            first.resize(l + 1, None);
        }
        if first[l].is_none() {
            first[l] = Some((i / w, i % w));
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::Field;
    use crate::params::Stitched;
    use crate::pipeline::analyze_with_labels;
    use crate::pipeline::PlaneStatistics;
    use crate::synth::confocal::{render, Setting};
    use crate::U16Image;

    /// A single-plane field of the broad simulator, `n` × `n` px.
    fn field(n: usize, seed: u64) -> Field {
        let mut s = Setting::draw(n, n, seed);
        s.depth = 1;
        let r = render(&s).rendered;
        let planes: [U16Image; 3] = std::array::from_fn(|c| {
            let v = r.slices[0][c]
                .iter()
                .map(|&x| (x * 4095.0).round().clamp(0.0, 65535.0) as u16)
                .collect();
            U16Image::from_raw(n as u32, n as u32, v).unwrap()
        });
        Field::from_planes(planes, r.pixel_size_um).unwrap()
    }

    /// The analysis in blocks against the whole field's: the same
    /// objects, in the same order, with the same verdicts, centroids
    /// within 0.5 px (in fact to rounding) and areas within 1 % (in
    /// fact equal); the same Sox9+ nuclei, tissue and thresholds.
    fn assert_same(blocks: &FieldAnalysis, whole: &FieldAnalysis, what: &str) {
        assert_eq!(blocks.thresholds, whole.thresholds, "{what}");
        assert_eq!(blocks.sox9_nuclei, whole.sox9_nuclei, "{what}");
        assert_eq!(blocks.tissue_area_mm2, whole.tissue_area_mm2, "{what}");
        assert_eq!(blocks.follicles_per_mm2, whole.follicles_per_mm2, "{what}");
        for (b, w) in [
            (&blocks.follicles, &whole.follicles),
            (&blocks.rejected, &whole.rejected),
        ] {
            assert_eq!(b.len(), w.len(), "{what}");
            for (b, w) in b.iter().zip(w) {
                assert_eq!(
                    (b.id, b.label, b.verdict),
                    (w.id, w.label, w.verdict),
                    "{what}"
                );
                assert!(
                    (b.x - w.x).abs() < 1e-6 && (b.y - w.y).abs() < 1e-6,
                    "{what}: {b:?} {w:?}"
                );
                assert_eq!(b.area_px, w.area_px, "{what}");
                assert_eq!(b.sox9_nuclei, w.sox9_nuclei, "{what}");
                let near = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(1.0);
                assert!(
                    near(b.mean_pcad, w.mean_pcad) && near(b.mean_dapi, w.mean_dapi),
                    "{what}"
                );
                match (b.contrast, w.contrast) {
                    (Some(a), Some(c)) => assert!(near(a, c), "{what}"),
                    (a, c) => assert_eq!(a, c, "{what}"),
                }
            }
        }
    }

    /// Tiny cores (many blocks, every follicle near some core's edge)
    /// and larger ones, on simulated fields: the same analysis as the
    /// whole field's, with the flat field on (its profile above the dark
    /// level or not) and off, with local thresholds and without.
    #[test]
    fn blocks_equal_the_whole_field() {
        for seed in [3, 8] {
            let f = field(1024, seed);
            for (flat_field, dark, local) in [
                (true, Stitched::Auto, Stitched::Auto),
                (true, Stitched::On, Stitched::On),
                (false, Stitched::Auto, Stitched::Auto),
                (false, Stitched::Auto, Stitched::On),
            ] {
                let p = Params {
                    flat_field,
                    flat_field_dark: dark,
                    local_thresholds: local,
                    ..Params::default()
                };
                let (whole, _) = analyze_with_labels(&f, &p);
                assert!(whole.follicles.len() > 3, "seed {seed}");
                let stats = PlaneStatistics::of(&f, &p);
                assert_eq!(stats.thresholds, whole.thresholds);
                let overlap = Blocks::overlap_px(&p, f.pixel_size_um);
                for core_px in [97, 256, 600] {
                    let b = Blocks {
                        core_px,
                        overlap_px: overlap,
                    };
                    let parts = analyze_in_blocks(&f, &p, &stats, b, &|_, _, _| {}).unwrap();
                    let what = format!(
                        "seed {seed}, flat field {flat_field} {dark:?}, local {local:?}, \
                         core {core_px}"
                    );
                    assert_same(&parts, &whole, &what);
                }
            }
        }
    }

    /// The statistics read a window at a time are the whole field's, to
    /// the bit (ranges, profile, thresholds), for cores of any size, with
    /// the flat field on and off and every histogram method; and the
    /// analysis in blocks with them is the whole field's.
    #[test]
    fn statistics_read_by_windows_equal_the_whole_fields() {
        use crate::segment::threshold::Method;
        let f = field(900, 5);
        use crate::segment::background::Method as Background;
        for (flat_field, pcad, sox9, background, dark) in [
            (
                true,
                Method::Triangle,
                Method::Otsu,
                Background::TopHat,
                Stitched::On,
            ),
            (
                true,
                Method::Triangle,
                Method::Otsu,
                Background::TopHat,
                Stitched::Off,
            ),
            (
                false,
                Method::Li,
                Method::Triangle,
                Background::TopHat,
                Stitched::Auto,
            ),
            (
                true,
                Method::Fixed(40.0),
                Method::Li,
                Background::Gaussian,
                Stitched::On,
            ),
            (
                true,
                Method::Otsu,
                Method::Otsu,
                Background::None,
                Stitched::Auto,
            ),
        ] {
            let p = Params {
                flat_field,
                flat_field_dark: dark,
                // Local thresholds with the profile above the dark level
                // (as `auto` gives a mosaic), without elsewhere.
                local_thresholds: dark,
                threshold_pcad: pcad,
                threshold_sox9: sox9,
                background,
                ..Params::default()
            };
            let whole = PlaneStatistics::of(&f, &p);
            if dark == Stitched::On {
                let methods = [pcad, sox9, p.threshold_dapi];
                for (map, m) in whole.local.iter().zip(methods) {
                    assert_eq!(map.is_some(), !matches!(m, Method::Fixed(_)), "{m:?}");
                }
            }
            for core in [100, 333, 2000] {
                let what = format!(
                    "flat {flat_field} {dark:?} {pcad:?} {sox9:?} {background:?} core {core}"
                );
                let read = PlaneStatistics::of_windows(&f, &p, core, &|_, _, _| {}).unwrap();
                let bits = |t: [f32; 3]| t.map(f32::to_bits);
                assert_eq!(bits(read.thresholds), bits(whole.thresholds), "{what}");
                assert_eq!(read.ranges, whole.ranges, "{what}");
                assert_eq!(read.local, whole.local, "{what}");
                match (&read.illumination, &whole.illumination) {
                    (Some(a), Some(b)) => {
                        assert_eq!(a.max().to_bits(), b.max().to_bits(), "{what}");
                        assert_eq!(a.to_image(), b.to_image(), "{what}");
                    }
                    (a, b) => assert_eq!(a.is_none(), b.is_none(), "{what}"),
                }
            }
            let (want, _) = analyze_with_labels(&f, &p);
            let read = PlaneStatistics::of_windows(&f, &p, 256, &|_, _, _| {}).unwrap();
            let b = Blocks::for_params(&p, f.pixel_size_um, 200.0);
            let got = analyze_in_blocks(&f, &p, &read, b, &|_, _, _| {}).unwrap();
            assert_same(&got, &want, &format!("flat {flat_field}"));
        }
        // The noise level is a median of the whole plane: refused.
        let p = Params {
            threshold_sox9: Method::Noise(3.0),
            ..Params::default()
        };
        assert!(PlaneStatistics::of_windows(&f, &p, 256, &|_, _, _| {}).is_err());
    }

    /// A tiled, pyramidal OME-TIFF read a window at a time (statistics
    /// and blocks, never the whole plane): the analysis of the field
    /// decoded whole.
    #[test]
    fn a_tiled_file_read_by_windows_gives_the_whole_fields_analysis() {
        use crate::io::{FileWindows, LoadOptions, TiffSource};
        use crate::synth::tiled::{tiled_ome_tiff, TiledOptions};
        let f = field(840, 9);
        let planes: Vec<&[u16]> = f
            .channels
            .iter()
            .map(|c| match c {
                crate::io::Plane::U16(i) => i.as_raw().as_slice(),
                crate::io::Plane::F32(_) => unreachable!(),
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mosaic.ome.tif");
        let o = TiledOptions {
            tile: 128,
            levels: 2,
            deflate: true,
            pixel_size_um: f.pixel_size_um,
            names: vec!["P-cadherin".into(), "Sox9".into(), "DAPI".into()],
        };
        tiled_ome_tiff(&path, &planes, (f.width, f.height), &o).unwrap();
        let opts = LoadOptions::default();
        let whole_field = TiffSource::open(&path)
            .unwrap()
            .load_field(0, &opts)
            .unwrap();
        assert_eq!(whole_field.channels, f.channels);
        let p = Params::default();
        let (want, _) = analyze_with_labels(&whole_field, &p);
        assert!(want.follicles.len() > 3);
        let src = FileWindows::new(&path, 0, &opts).unwrap();
        // Every block of every stage is reported, each stage to its total.
        let seen = std::sync::Mutex::new(std::collections::BTreeMap::new());
        let on_block = |stage: &str, done: usize, total: usize| {
            let mut seen = seen.lock().unwrap();
            let e = seen.entry(stage.to_string()).or_insert((0, total));
            *e = (e.0.max(done), total);
        };
        let stats = PlaneStatistics::of_windows(&src, &p, 300, &on_block).unwrap();
        let b = Blocks::for_params(&p, f.pixel_size_um, 150.0);
        let got = analyze_in_blocks(&src, &p, &stats, b, &on_block).unwrap();
        assert_same(&got, &want, "tiled file");
        let seen = seen.into_inner().unwrap();
        let stages: Vec<&str> = seen.keys().map(String::as_str).collect();
        assert_eq!(
            stages,
            [
                "blocks",
                "statistics 1/4",
                "statistics 2/4",
                "statistics 3/4",
                "statistics 4/4"
            ]
        );
        assert!(
            seen.values()
                .all(|&(done, total)| done == total && total > 1),
            "{seen:?}"
        );
        assert_eq!(seen["blocks"].1, b.windows(f.width, f.height).len());
    }

    /// The cores tile the plane, each block holds its core, and a block
    /// reaches no further than the overlap past it.
    #[test]
    fn cores_tile_the_plane() {
        for (w, h, core, overlap) in [
            (100, 70, 30, 7),
            (5, 5, 10, 3),
            (64, 64, 16, 0),
            (33, 91, 1, 2),
        ] {
            let mut hits = vec![0u32; w * h];
            for at in (Blocks {
                core_px: core,
                overlap_px: overlap,
            })
            .windows(w, h)
            {
                let (x0, x1, y0, y1) = at.core;
                let (ox, oy) = at.origin;
                assert!(ox <= x0 && oy <= y0 && x1 <= ox + at.size.0 && y1 <= oy + at.size.1);
                assert!(x0 - ox <= overlap && ox + at.size.0 - x1 <= overlap);
                for y in y0..y1 {
                    for x in x0..x1 {
                        hits[y * w + x] += 1;
                    }
                }
            }
            assert!(hits.iter().all(|&n| n == 1), "{w}×{h} core {core}");
        }
    }
}
