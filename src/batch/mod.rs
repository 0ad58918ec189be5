//! The batch driver: analyses every field of every input file in
//! parallel (rayon), in a deterministic output order, with overlays
//! written as fields finish. Inputs are found by [`inputs`].

pub mod inputs;
mod memory;
pub mod shard;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::error::RunError;
use crate::io::{Digest, FileWindows, Source, WindowSource};
use crate::io::{Field, Stack};
use crate::pipeline::{
    analyze_in_blocks, analyze_stack, analyze_with_labels, analyze_with_masks, Blocks, Masks,
    PlaneStatistics,
};
use crate::report::density::{density_grid, render_density, BIN_UM};
use crate::report::mosaic_overlay::MosaicOverlay;
use crate::report::{masks, overlay, write_atomic};
use crate::run::{in_table_order, BatchResult, FieldRecord, FileRecord, FileResult, RunOptions};
use inputs::{Input, Stamp};
pub use memory::peak_rss_mib;

/// The message of a caught panic.
fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Where `path` leads, when a symbolic link lies on the way.
fn real_path(path: &std::path::Path) -> Option<std::path::PathBuf> {
    let real = std::fs::canonicalize(path).ok()?;
    let absolute = std::path::absolute(path).ok()?;
    (real != absolute).then_some(real)
}

/// The progress bar's rate, one decimal always (indicatif's own `per_sec`
/// shows 10.74/s, then 10.9697/s).
fn rate_text(per_sec: f64) -> String {
    format!("{per_sec:.1} files/s")
}

/// Test hook: make the analysis of this field index panic (`usize::MAX`:
/// none).
#[cfg(test)]
static PANIC_AT_FIELD: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(usize::MAX);

/// A field as loaded: projected for the 2D analysis, whole for 3D.
enum Loaded {
    Field(Field),
    Stack(Stack),
}

/// Writes a picture as `dir`/`name` less its `overlays/` prefix (the
/// name the records give, relative to the output folder).
fn write_png(dir: &std::path::Path, name: &str, img: &image::RgbImage) -> Result<(), String> {
    let path = dir.join(name.trim_start_matches("overlays/"));
    let bytes = overlay::png_bytes(img).map_err(|e| e.to_string())?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    write_atomic(&path, &bytes).map_err(|e| e.to_string())
}

/// Loads, analyses and (optionally) draws field `i` of an open file, in
/// 2D or 3D as [`crate::params::Params::choose_analysis`] says.
fn process_field(
    src: &mut Source,
    input: &Input,
    i: usize,
    opts: &RunOptions,
    bar: &ProgressBar,
) -> FieldRecord {
    let t = Instant::now();
    let choice = src.info(i).map(|info| {
        let dz = opts.load.z_step_um.or(info.z_step_um);
        opts.params.choose_analysis(info.depth, dz)
    });
    let three_d = choice.as_ref().is_some_and(|c| c.three_d);
    // A plane over the whole-plane limit (a stitched mosaic) in blocks.
    let pixels = src
        .info(i)
        .map_or(0, |f| (f.width as u64).saturating_mul(f.height as u64));
    if !three_d && pixels > opts.load.limits.max_plane_pixels {
        return process_in_blocks(src, input, i, opts, choice, t, bar);
    }
    let loaded = if three_d {
        src.load_stack(i, &opts.load).map(Loaded::Stack)
    } else {
        src.load_field(i, &opts.load).map(Loaded::Field)
    };
    let loaded = match loaded {
        Ok(l) => l,
        Err(e) => {
            let mut rec =
                FieldRecord::failed(&input.name, i, e.to_string(), t.elapsed().as_secs_f64());
            rec.mode = choice;
            return rec;
        }
    };
    #[cfg(test)]
    if PANIC_AT_FIELD.load(Ordering::SeqCst) == i {
        panic!("injected panic in field {i}");
    }
    let drawn = opts.overlay_dir.is_some();
    let (field, analysis, masks, picture) = match loaded {
        Loaded::Field(field) => {
            let (analysis, masks) = if opts.masks_dir.is_some() {
                analyze_with_masks(&field, &opts.params)
            } else {
                let (analysis, candidates) = analyze_with_labels(&field, &opts.params);
                let masks = Masks {
                    candidates,
                    nuclei: None,
                    sox9_nuclei: None,
                };
                (analysis, masks)
            };
            let picture = drawn.then(|| overlay::render(&field, &masks.candidates, &analysis));
            (field, analysis, masks, picture)
        }
        Loaded::Stack(stack) => {
            let found = analyze_stack(&stack, &opts.params);
            let field = stack.projected();
            let picture = drawn.then(|| overlay::render_stack(&stack, &field, &found));
            let masks = Masks {
                candidates: found.top_labels(),
                nuclei: None,
                sox9_nuclei: None,
            };
            (field, found.analysis, masks, picture)
        }
    };
    let size = (field.width, field.height);
    let mut rec = record_of(input, i, &field, size, choice);
    write_pictures(&mut rec, picture, &analysis, src.field_count(), opts);
    if let Some(dir) = &opts.masks_dir {
        let n = src.field_count();
        let saved = masks::save(
            dir,
            &input.name,
            i,
            n,
            &analysis,
            &masks,
            Some(field.pixel_size_um),
        );
        match saved {
            Ok(names) => rec.masks = names,
            Err(e) => rec.error = Some(format!("cannot save masks: {e}")),
        }
    }
    rec.analysis = Some(analysis);
    // The planes go back to this worker's pool for its next field.
    crate::pool::give(masks.candidates.into_raw());
    field.recycle();
    rec.seconds = t.elapsed().as_secs_f64();
    rec
}

/// The record of an analysed field: its metadata from `field` (for a
/// mosaic, a window of it), its size `(w, h)`, no results yet.
fn record_of(
    input: &Input,
    i: usize,
    field: &Field,
    (w, h): (usize, usize),
    choice: Option<crate::params::AnalysisChoice>,
) -> FieldRecord {
    FieldRecord {
        file: input.name.clone(),
        field: i,
        width: Some(w),
        height: Some(h),
        depth: Some(field.depth),
        pixel_size_um: Some(field.pixel_size_um),
        channel_source: Some(field.channel_source),
        channels: Some(field.channel_roles.clone()),
        mode: choice,
        z_step_um: field.z_step_um,
        analysis: None,
        error: None,
        seconds: 0.0,
        overlay: None,
        masks: Vec::new(),
        density_map: None,
    }
}

/// With overlays: writes the field's `picture` and its density map,
/// named in `rec` (a write that fails is the record's error).
fn write_pictures(
    rec: &mut FieldRecord,
    picture: Option<image::RgbImage>,
    analysis: &crate::pipeline::FieldAnalysis,
    fields_in_file: usize,
    opts: &RunOptions,
) {
    if let (Some(dir), Some(img)) = (&opts.overlay_dir, picture) {
        let name = overlay::file_name(&rec.file, rec.field, fields_in_file);
        match write_png(dir, &name, &img) {
            Ok(()) => rec.overlay = Some(name),
            Err(e) => rec.error = Some(format!("cannot write overlay: {e}")),
        }
    }
    write_density_map(rec, analysis, fields_in_file, opts);
}

/// With overlays, where the follicles are: the density map of a field
/// at least 2 × 2 bins large, named in `rec` (which holds the field's
/// size and pixel size).
fn write_density_map(
    rec: &mut FieldRecord,
    analysis: &crate::pipeline::FieldAnalysis,
    fields_in_file: usize,
    opts: &RunOptions,
) {
    let Some(dir) = &opts.overlay_dir else {
        return;
    };
    let (Some(w), Some(h), Some(px)) = (rec.width, rec.height, rec.pixel_size_um) else {
        return;
    };
    let Some(grid) = density_grid(analysis, w, h, px, BIN_UM) else {
        return;
    };
    let overlay_name = overlay::file_name(&rec.file, rec.field, fields_in_file);
    let name = format!("{}.density.png", overlay_name.trim_end_matches(".png"));
    match write_png(dir, &name, &render_density(&grid)) {
        Ok(()) => rec.density_map = Some(name),
        Err(e) => rec.error = Some(format!("cannot write density map: {e}")),
    }
}

/// Field `i`, a plane over `max_plane_pixels` (a stitched mosaic),
/// analysed in blocks of `block_px` read a window at a time — the whole
/// plane's statistics first, then the blocks — so it is never decoded
/// whole ([`crate::pipeline::analyze_in_blocks`]); the progress bar's
/// message follows its blocks. Its overlay is drawn downscaled, follicles
/// as circles ([`MosaicOverlay`]), and its density map; its masks (the
/// mosaic's size) are not saved.
fn process_in_blocks(
    src: &Source,
    input: &Input,
    i: usize,
    opts: &RunOptions,
    choice: Option<crate::params::AnalysisChoice>,
    t: Instant,
    bar: &ProgressBar,
) -> FieldRecord {
    let p = &opts.params;
    let on_block = |stage: &str, done: usize, total: usize| {
        bar.set_message(format!("{} {stage}: block {done}/{total}", input.name));
    };
    let analysed = || -> Result<_, crate::error::LoadError> {
        let windows = FileWindows::new(&input.path, i, &opts.load)?;
        let overlap = Blocks::overlap_px(p, windows.pixel_size_um());
        // A block, its overlap included, within the whole-plane limit.
        let side = (opts.load.limits.max_plane_pixels as f64).sqrt() as usize;
        let room = side.saturating_sub(2 * overlap);
        if room < 64 {
            return Err(crate::error::LoadError::Limit(format!(
                "max_plane_pixels = {} leaves no room for blocks with the {overlap} px overlap \
                 this analysis needs around each; raise it",
                opts.load.limits.max_plane_pixels
            )));
        }
        let core = usize::try_from(p.block_px)
            .unwrap_or(usize::MAX)
            .clamp(1, room);
        let stats = PlaneStatistics::of_windows(&windows, p, core, &on_block)?;
        let blocks = Blocks {
            core_px: core,
            overlap_px: overlap,
        };
        let analysis = analyze_in_blocks(&windows, p, &stats, blocks, &on_block)?;
        // The overlay, downscaled, a core at a time.
        let picture = match opts.overlay_dir {
            Some(_) => Some(mosaic_picture(&windows, core, &analysis)?),
            None => None,
        };
        Ok((windows.size(), windows.probe()?, analysis, picture))
    };
    let analysed = analysed();
    bar.set_message("");
    let ((w, h), probe, analysis, picture) = match analysed {
        Ok(done) => done,
        Err(e) => {
            let mut rec =
                FieldRecord::failed(&input.name, i, e.to_string(), t.elapsed().as_secs_f64());
            rec.mode = choice;
            return rec;
        }
    };
    let mut rec = record_of(input, i, &probe, (w, h), choice);
    write_pictures(&mut rec, picture, &analysis, src.field_count(), opts);
    rec.analysis = Some(analysis);
    rec.seconds = t.elapsed().as_secs_f64();
    rec
}

/// The downscaled overlay of a plane analysed in blocks, its cores read
/// once more one after the other ([`MosaicOverlay`]).
fn mosaic_picture(
    windows: &FileWindows,
    core: usize,
    analysis: &crate::pipeline::FieldAnalysis,
) -> Result<image::RgbImage, crate::error::LoadError> {
    let (w, h) = windows.size();
    let mut picture = MosaicOverlay::new(w, h);
    let cores = Blocks {
        core_px: core,
        overlap_px: 0,
    };
    for at in cores.windows(w, h) {
        let (x0, y0) = at.origin;
        let window = windows.window(x0, y0, at.size.0, at.size.1)?;
        picture.add(&window, x0, y0);
        window.recycle();
    }
    Ok(picture.render(analysis))
}

/// Analyses every field of one file; never panics outward. A panic inside
/// one field's analysis becomes that field's error and the file's other
/// fields go on. A file that changed since the batch found it, or while it
/// was read, gets an error on every field: its results would describe
/// bytes no one can find again. With `hash`, also the file's size and BLAKE3 hash:
/// taken from the decoder's own reads where the fields were read one after
/// the other from one open file, else by reading the file once more.
fn process_file_hashed(
    input: &Input,
    opts: &RunOptions,
    hash: bool,
    bar: &ProgressBar,
) -> (Vec<FieldRecord>, Option<Digest>) {
    let records = |r| (r, hash.then(|| Digest::of_path(&input.path)).flatten());
    let t0 = Instant::now();
    let failed = |field: usize, error: String| {
        vec![FieldRecord::failed(
            &input.name,
            field,
            error,
            t0.elapsed().as_secs_f64(),
        )]
    };
    let before = Stamp::of(&input.path);
    if let Some(why) = input.stamp.and_then(|s| s.change(before)) {
        return records(failed(
            0,
            format!("file changed since the batch started: {why}"),
        ));
    }
    let opened = catch_unwind(AssertUnwindSafe(|| {
        if hash {
            Source::open_hashed(&input.path, opts.load.limits)
        } else {
            Source::open(&input.path, opts.load.limits)
        }
    }));
    let mut src = match opened {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return records(failed(0, e.to_string())),
        Err(panic) => {
            return records(failed(
                0,
                format!("internal error: {}", panic_message(panic)),
            ))
        }
    };
    let n = src.field_count();
    let one = |src: &mut Source, i: usize| {
        let t = Instant::now();
        catch_unwind(AssertUnwindSafe(|| process_field(src, input, i, opts, bar))).unwrap_or_else(
            |panic| {
                FieldRecord::failed(
                    &input.name,
                    i,
                    format!("internal error: {}", panic_message(panic)),
                    t.elapsed().as_secs_f64(),
                )
            },
        )
    };
    let mut digest = None;
    let mut out: Vec<FieldRecord> = if n > 1 && rayon::current_num_threads() > 1 {
        // The fields of one file in parallel too, so a multi-position
        // OME-TIFF alone keeps every core busy; each task reads through
        // a decoder of its own.
        drop(src);
        (0..n)
            .into_par_iter()
            .map(|i| match Source::open(&input.path, opts.load.limits) {
                Ok(mut own) => one(&mut own, i),
                Err(e) => FieldRecord::failed(&input.name, i, e.to_string(), 0.0),
            })
            .collect()
    } else {
        let out = (0..n).map(|i| one(&mut src, i)).collect();
        digest = src.digest().and_then(Result::ok);
        out
    };
    if let Some(why) = before.and_then(|b| b.change(Stamp::of(&input.path))) {
        let error = format!("file changed while it was read: {why}");
        for r in out.iter_mut() {
            *r = FieldRecord::failed(&input.name, r.field, error.clone(), r.seconds);
        }
    }
    match digest {
        Some(d) => (out, Some(d)),
        None => records(out),
    }
}

/// Runs the batch on `opts.threads` workers. Output order is independent of
/// the thread count.
pub fn run(inputs: &[Input], opts: &RunOptions) -> Result<BatchResult, RunError> {
    run_controlled(inputs, opts, &AtomicBool::new(false), Vec::new(), &|_| {})
}

/// [`run`], stoppable and resumable: workers start no new file once `stop`
/// is set (files under way finish); `done` is called with each finished
/// file (from the worker that finished it, e.g. to journal it); `previous`
/// are files finished by an interrupted run, which are not analysed again
/// and come back in the result as if they had just been.
pub fn run_controlled(
    inputs: &[Input],
    opts: &RunOptions,
    stop: &AtomicBool,
    previous: Vec<FileResult>,
    done: &(dyn Fn(&FileResult) + Sync),
) -> Result<BatchResult, RunError> {
    opts.params.validate()?;
    let t0 = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .map_err(|e| RunError::Threads(e.to_string()))?;
    let threads = pool.current_num_threads();
    // Carry over only files that are still inputs, read from the same path.
    let previous: Vec<FileResult> = previous
        .into_iter()
        .filter(|(f, _)| inputs.iter().any(|i| i.name == f.file && i.path == f.path))
        .collect();
    let todo: Vec<&Input> = inputs
        .iter()
        .filter(|i| !previous.iter().any(|(f, _)| f.file == i.name))
        .collect();
    let bar = if opts.progress {
        let b = ProgressBar::new(inputs.len() as u64);
        b.set_position(previous.len() as u64);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} files ({rate}, ETA {eta}) {msg}",
        ) {
            // One decimal, always (indicatif's own rate varies its digits).
            b.set_style(style.with_key(
                "rate",
                |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&rate_text(s.per_sec()));
                },
            ));
        }
        b
    } else {
        ProgressBar::hidden()
    };
    let started = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let per_file: Vec<Option<FileResult>> = pool.install(|| {
        todo.par_iter()
            .map(|input| {
                if stop.load(Ordering::SeqCst) {
                    return None;
                }
                let (r, digest) = process_file_hashed(input, opts, true, &bar);
                let (bytes, blake3) =
                    digest.map_or((None, None), |d| (Some(d.bytes), Some(d.blake3)));
                if opts.verbose {
                    let n: usize = r.iter().map(|f| f.follicle_count()).sum();
                    let failed = r.iter().filter(|f| f.error.is_some()).count();
                    bar.suspend(|| {
                        eprintln!(
                            "{}: {} field(s), {n} follicles, {failed} failed",
                            input.name,
                            r.len()
                        )
                    });
                }
                bar.inc(1);
                let result = (
                    FileRecord {
                        file: input.name.clone(),
                        path: input.path.clone(),
                        real_path: real_path(&input.path),
                        bytes,
                        blake3,
                    },
                    r,
                );
                done(&result);
                Some(result)
            })
            .collect()
    });
    bar.finish_and_clear();
    let remaining_files = per_file.iter().filter(|r| r.is_none()).count();
    let resumed_files = previous.len();
    let (files, records) = in_table_order(
        previous
            .into_iter()
            .chain(per_file.into_iter().flatten())
            .collect(),
    );
    let finished = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    Ok(BatchResult {
        records,
        files,
        started,
        finished,
        elapsed_s: t0.elapsed().as_secs_f64(),
        threads,
        interrupted: remaining_files > 0,
        remaining_files,
        resumed_files,
        peak_rss_mib: peak_rss_mib(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_rate_keeps_one_decimal() {
        assert_eq!(rate_text(10.74), "10.7 files/s");
        assert_eq!(rate_text(10.9697), "11.0 files/s");
        assert_eq!(rate_text(0.0), "0.0 files/s");
    }

    /// The fields of one file, without the hash.
    fn process_file(input: &Input, opts: &RunOptions) -> Vec<FieldRecord> {
        process_file_hashed(input, opts, false, &ProgressBar::hidden()).0
    }

    impl FieldRecord {
        fn with_seconds(mut self, s: f64) -> FieldRecord {
            self.seconds = s;
            self
        }
    }

    #[test]
    fn a_panic_in_one_field_is_that_fields_error_and_the_next_field_goes_on() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let input = Input::new(
            "ome_two_series.ome.tif".into(),
            dir.join("ome_two_series.ome.tif"),
        );
        let opts = RunOptions::default();
        let clean = process_file(&input, &opts);
        assert_eq!(clean.len(), 2);
        assert!(clean.iter().all(|r| r.error.is_none()));
        // Fields in parallel (two workers) and one after the other (one).
        for threads in [2, 1] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            PANIC_AT_FIELD.store(0, Ordering::SeqCst);
            let hit = pool.install(|| process_file(&input, &opts));
            PANIC_AT_FIELD.store(usize::MAX, Ordering::SeqCst);
            assert_eq!(hit.len(), 2);
            let e = hit[0].error.as_deref().unwrap_or("");
            assert!(
                e.starts_with("internal error: injected panic in field 0"),
                "{e}"
            );
            assert_eq!(hit[1], clean[1].clone().with_seconds(hit[1].seconds));
        }
    }
}
