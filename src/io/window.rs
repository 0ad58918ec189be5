//! A plane read a window at a time: what an analysis in blocks reads
//! from, so that a plane too large to hold is never held whole.

use std::path::{Path, PathBuf};

use super::{Field, LoadOptions, Source};
use crate::error::LoadError;

/// A plane (its three channels) that can be read a window at a time,
/// from any thread.
pub trait WindowSource: Sync {
    /// The plane's width and height, px.
    fn size(&self) -> (usize, usize);

    /// µm per pixel.
    fn pixel_size_um(&self) -> f64;

    /// The `w` × `h` window whose top-left pixel is (`x0`, `y0`), as a
    /// field of its own (clipped to the plane).
    fn window(&self, x0: usize, y0: usize, w: usize, h: usize) -> Result<Field, LoadError>;
}

/// A field in memory, read by copying windows of it.
impl WindowSource for Field {
    fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    fn pixel_size_um(&self) -> f64 {
        self.pixel_size_um
    }

    fn window(&self, x0: usize, y0: usize, w: usize, h: usize) -> Result<Field, LoadError> {
        Ok(self.crop(x0, y0, w, h))
    }
}

/// One field of an input (a TIFF file or an OME-Zarr folder) read a
/// window at a time ([`Source::load_window`]), from any thread at once:
/// each read takes an open input from a pool, or opens one more (at most
/// one per thread reading at a time).
pub struct FileWindows {
    path: PathBuf,
    index: usize,
    opts: LoadOptions,
    size: (usize, usize),
    pixel_size_um: f64,
    open: std::sync::Mutex<Vec<Source>>,
}

impl FileWindows {
    /// Field `index` of the input at `path`, read as `opts` says (its
    /// channel roles and pixel size resolved now: a field that cannot be
    /// read fails here, before any window).
    pub fn new(path: &Path, index: usize, opts: &LoadOptions) -> Result<FileWindows, LoadError> {
        let mut src = Source::open(path, opts.limits)?;
        let info = src
            .info(index)
            .ok_or_else(|| LoadError::Metadata(format!("no field {index}")))?;
        let size = (info.width, info.height);
        let probe = src.load_window(index, opts, (0, 0, 1, 1))?;
        Ok(FileWindows {
            path: path.to_path_buf(),
            index,
            opts: opts.clone(),
            size,
            pixel_size_um: probe.pixel_size_um,
            open: std::sync::Mutex::new(vec![src]),
        })
    }

    /// The field's metadata (channel roles and their source, depth, z
    /// step) with a 1 × 1 window of its pixels.
    pub fn probe(&self) -> Result<Field, LoadError> {
        self.window(0, 0, 1, 1)
    }
}

impl WindowSource for FileWindows {
    fn size(&self) -> (usize, usize) {
        self.size
    }

    fn pixel_size_um(&self) -> f64 {
        self.pixel_size_um
    }

    fn window(&self, x0: usize, y0: usize, w: usize, h: usize) -> Result<Field, LoadError> {
        let pooled = self.open.lock().ok().and_then(|mut v| v.pop());
        let mut src = match pooled {
            Some(src) => src,
            None => Source::open(&self.path, self.opts.limits)?,
        };
        let window = src.load_window(self.index, &self.opts, (x0, y0, w, h));
        if let Ok(mut v) = self.open.lock() {
            v.push(src);
        }
        window
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::TiffSource;
    use crate::synth::tiled::{tiled_ome_tiff, TiledOptions};
    use crate::synth::write::{self, Comp, OmeSeries, Options, SampleType};
    use crate::synth::{render, Scene};

    /// Windows of every size and place, including ones crossing tile
    /// and strip edges and the plane's last partial tiles.
    const RECTS: [(usize, usize, usize, usize); 6] = [
        (0, 0, 300, 210),
        (17, 33, 100, 90),
        (250, 200, 50, 10),
        (63, 64, 2, 2),
        (0, 100, 300, 1),
        (290, 0, 500, 500),
    ];

    /// Each window of `path` as the whole field decoded and cropped.
    fn windows_equal_crops(path: &Path) {
        let mut src = TiffSource::open(path).unwrap();
        let whole = src.load_field(0, &LoadOptions::default()).unwrap();
        let windows = FileWindows::new(path, 0, &LoadOptions::default()).unwrap();
        assert_eq!(windows.size(), (whole.width, whole.height));
        assert_eq!(windows.pixel_size_um(), whole.pixel_size_um);
        for (x0, y0, w, h) in RECTS {
            let got = windows.window(x0, y0, w, h).unwrap();
            let want = whole.crop(x0, y0, w, h);
            assert_eq!(got.channels, want.channels, "{path:?} {x0},{y0} {w}×{h}");
            assert_eq!(got.channel_roles, want.channel_roles);
            assert_eq!((got.width, got.height), (want.width, want.height));
        }
    }

    #[test]
    fn tiled_pyramidal_windows_equal_crops_of_the_whole_plane() {
        let dir = tempfile::tempdir().unwrap();
        let r = render(&Scene::hard(300, 210, 0.8, 2));
        let planes: Vec<Vec<u16>> = (0..3)
            .map(|c| {
                r.slices[0][c]
                    .iter()
                    .map(|&v| (v * 4000.0) as u16)
                    .collect()
            })
            .collect();
        // DAPI first in the file: the roles come from the names.
        let order = [2, 0, 1];
        let refs: Vec<&[u16]> = order.iter().map(|&c| planes[c].as_slice()).collect();
        for (tile, levels, deflate) in [(64, 2, true), (48, 0, false), (512, 1, false)] {
            let path = dir.path().join(format!("m{tile}.ome.tif"));
            let o = TiledOptions {
                tile,
                levels,
                deflate,
                pixel_size_um: 0.8,
                names: vec!["DAPI".into(), "P-cadherin".into(), "Sox9".into()],
            };
            tiled_ome_tiff(&path, &refs, (300, 210), &o).unwrap();
            // One field of three channels: the SubIFD levels are not pages.
            let src = TiffSource::open(&path).unwrap();
            assert_eq!(src.field_count(), 1);
            windows_equal_crops(&path);
            let f = FileWindows::new(&path, 0, &LoadOptions::default())
                .unwrap()
                .probe()
                .unwrap();
            assert_eq!(f.pixel_size_um, 0.8);
            let pcad = TiffSource::open(&path)
                .unwrap()
                .load_field(0, &LoadOptions::default())
                .unwrap()
                .channels[0]
                .clone();
            assert_eq!(
                pcad,
                crate::io::Plane::U16(
                    crate::U16Image::from_raw(300, 210, planes[0].clone()).unwrap()
                )
            );
        }
    }

    #[test]
    fn strip_windows_equal_crops_of_the_whole_plane() {
        let dir = tempfile::tempdir().unwrap();
        let r = render(&Scene::hard(300, 210, 1.0, 4));
        for comp in [Comp::Lzw, Comp::None, Comp::Deflate] {
            let path = dir.path().join(format!("s{comp:?}.ome.tif"));
            let s = OmeSeries {
                scene: &r,
                order: [0, 1, 2],
                names: ["P-cadherin", "Sox9", "DAPI"],
            };
            write::ome_tiff(&path, &[s], 4095, comp).unwrap();
            windows_equal_crops(&path);
        }
        // Interleaved RGB strips (chunky samples), 8 and 16 bits.
        for sample in [SampleType::U8, SampleType::U16(65535)] {
            let path = dir.path().join(format!("rgb{sample:?}.tif"));
            let o = Options {
                resolution: Some((tiff::tags::ResolutionUnit::Centimeter, 1e4)),
                ..Options::default()
            };
            write::color_pages(&path, &r, sample, false, &o).unwrap();
            windows_equal_crops(&path);
        }
    }

    /// A float page is decoded whole and cropped: the same windows.
    #[test]
    fn float_pages_fall_back_to_cropping() {
        let dir = tempfile::tempdir().unwrap();
        let r = render(&Scene::hard(300, 210, 1.0, 6));
        let path = dir.path().join("f.tif");
        let planes: Vec<&[f32]> = (0..3).map(|c| r.slices[0][c].as_slice()).collect();
        let o = Options {
            resolution: Some((tiff::tags::ResolutionUnit::Centimeter, 1e4)),
            ..Options::default()
        };
        write::gray_pages(&path, 300, 210, &planes, SampleType::F32(1000.0), &o).unwrap();
        windows_equal_crops(&path);
        // Over the whole-plane limit, a float plane is refused, saying
        // how to save it, not decoded whole once per window.
        let opts = LoadOptions {
            limits: crate::io::Limits {
                max_plane_pixels: 300 * 200,
                ..crate::io::Limits::default()
            },
            ..LoadOptions::default()
        };
        let mut src = TiffSource::open_with_limits(&path, opts.limits).unwrap();
        let e = src
            .load_window(0, &opts, (0, 0, 100, 100))
            .unwrap_err()
            .to_string();
        assert!(e.contains("save it as 16-bit"), "{e}");
    }
}
