//! The batch driver: finds the TIFFs under the inputs and analyses every
//! field of every file in parallel, in a deterministic output order.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use crate::error::RunError;
use crate::io::{ChannelSource, LoadOptions, TiffSource};
use crate::params::Params;
use crate::pipeline::{analyze_with_labels, FieldAnalysis};
use crate::report::{overlay, write_atomic};

/// One input file and the name it gets in the tables.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Input {
    /// The `file` column: the path relative to the folder given on the
    /// command line, or the path as given for a file argument, with `/`.
    pub name: String,
    /// Where to read it.
    pub path: PathBuf,
}

/// Whether a file name looks like a TIFF (.tif, .tiff, .ome.tif, any case).
pub fn is_tiff_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tif") || e.eq_ignore_ascii_case("tiff"))
}

fn slash_path(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Expands files and folders (walked recursively, following links, loops
/// skipped) into a sorted, duplicate-free list of TIFF inputs. Unreadable
/// directory entries are returned as warnings.
pub fn collect_inputs(paths: &[PathBuf]) -> Result<(Vec<Input>, Vec<String>), RunError> {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for root in paths {
        let meta = std::fs::metadata(root).map_err(|e| RunError::Input {
            path: root.clone(),
            reason: e.to_string(),
        })?;
        if meta.is_file() {
            out.push(Input {
                name: slash_path(root),
                path: root.clone(),
            });
            continue;
        }
        for entry in walkdir::WalkDir::new(root)
            .follow_links(true)
            .sort_by_file_name()
        {
            match entry {
                Err(e) => warnings.push(format!("skipping {e}")),
                Ok(e) if e.file_type().is_file() && is_tiff_name(e.path()) => {
                    let rel = e.path().strip_prefix(root).unwrap_or(e.path());
                    out.push(Input {
                        name: slash_path(rel),
                        path: e.path().to_path_buf(),
                    });
                }
                Ok(_) => {}
            }
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.path == b.path);
    Ok((out, warnings))
}

/// Everything a batch needs besides its inputs.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Analysis parameters.
    pub params: Params,
    /// How to read files.
    pub load: LoadOptions,
    /// Worker threads; 0 = one per core.
    pub threads: usize,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Print one line per finished file on stderr.
    pub verbose: bool,
    /// Write QC overlays into this folder (the run's `overlays/`).
    pub overlay_dir: Option<PathBuf>,
}

/// The outcome for one field (or for a whole file that could not be opened,
/// as field 0).
#[derive(Clone, Debug, Serialize)]
pub struct FieldRecord {
    /// `file` column.
    pub file: String,
    /// Field index inside the file.
    pub field: usize,
    /// Width, height, depth when known.
    pub width: Option<usize>,
    /// Height in pixels.
    pub height: Option<usize>,
    /// Number of z slices.
    pub depth: Option<usize>,
    /// µm per pixel used.
    pub pixel_size_um: Option<f64>,
    /// Where the channel roles came from.
    pub channel_source: Option<ChannelSource>,
    /// The analysis, when the field loaded.
    pub analysis: Option<FieldAnalysis>,
    /// One-line reason when it failed.
    pub error: Option<String>,
    /// Time spent on this field (load + analysis), seconds.
    pub seconds: f64,
    /// The overlay, relative to the output folder, when one was written.
    pub overlay: Option<String>,
}

impl FieldRecord {
    fn failed(file: &str, field: usize, error: String, seconds: f64) -> FieldRecord {
        FieldRecord {
            file: file.to_string(),
            field,
            width: None,
            height: None,
            depth: None,
            pixel_size_um: None,
            channel_source: None,
            analysis: None,
            error: Some(error.replace(['\n', '\r'], " ")),
            seconds,
            overlay: None,
        }
    }

    /// Number of counted follicles (0 for failed fields).
    pub fn follicle_count(&self) -> usize {
        self.analysis.as_ref().map_or(0, |a| a.follicles.len())
    }
}

/// An input file as it was read: for the run record.
#[derive(Clone, Debug, Serialize)]
pub struct FileRecord {
    /// `file` column.
    pub file: String,
    /// Path read.
    pub path: PathBuf,
    /// Size in bytes (absent when unreadable).
    pub bytes: Option<u64>,
    /// BLAKE3 hash of the content, hex (absent when unreadable).
    pub blake3: Option<String>,
}

fn hash_file(path: &Path) -> (Option<u64>, Option<String>) {
    let mut h = blake3::Hasher::new();
    match std::fs::File::open(path).and_then(|mut f| std::io::copy(&mut f, &mut h)) {
        Ok(n) => (Some(n), Some(h.finalize().to_hex().to_string())),
        Err(_) => (None, None),
    }
}

/// Overlay file name for a field: `<file>.png`, or `<file>.field<k>.png`
/// for files with several fields.
pub fn overlay_name(file: &str, field: usize, fields_in_file: usize) -> String {
    // Keep it inside overlays/: drop roots, drive prefixes, `.` and `..`.
    let file: Vec<String> = Path::new(file)
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let file = file.join("/");
    if fields_in_file > 1 {
        format!("overlays/{file}.field{field}.png")
    } else {
        format!("overlays/{file}.png")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_names_stay_inside_the_output() {
        assert_eq!(overlay_name("a.tif", 0, 1), "overlays/a.tif.png");
        assert_eq!(overlay_name("d/a.tif", 1, 2), "overlays/d/a.tif.field1.png");
        assert_eq!(overlay_name("/abs/x.tif", 0, 1), "overlays/abs/x.tif.png");
        assert_eq!(overlay_name("../../x.tif", 0, 1), "overlays/x.tif.png");
    }
}

/// A finished batch.
#[derive(Clone, Debug, Serialize)]
pub struct BatchResult {
    /// One record per field, sorted by file then field.
    pub records: Vec<FieldRecord>,
    /// One record per input file, in input order.
    pub files: Vec<FileRecord>,
    /// Start and end of the run (RFC 3339, UTC).
    pub started: String,
    /// End of the run.
    pub finished: String,
    /// Wall time of the batch, seconds.
    pub elapsed_s: f64,
    /// Worker threads used.
    pub threads: usize,
}

impl BatchResult {
    /// Records of failed fields.
    pub fn failures(&self) -> impl Iterator<Item = &FieldRecord> {
        self.records.iter().filter(|r| r.error.is_some())
    }
}

/// Analyses every field of one file; never panics outward.
pub fn process_file(input: &Input, opts: &RunOptions) -> Vec<FieldRecord> {
    let run = || -> Vec<FieldRecord> {
        let t0 = Instant::now();
        let mut src = match TiffSource::open_with_limits(&input.path, opts.load.limits) {
            Ok(s) => s,
            Err(e) => {
                return vec![FieldRecord::failed(
                    &input.name,
                    0,
                    e.to_string(),
                    t0.elapsed().as_secs_f64(),
                )]
            }
        };
        let mut out = Vec::with_capacity(src.field_count());
        for i in 0..src.field_count() {
            let t = Instant::now();
            match src.load_field(i, &opts.load) {
                Err(e) => out.push(FieldRecord::failed(
                    &input.name,
                    i,
                    e.to_string(),
                    t.elapsed().as_secs_f64(),
                )),
                Ok(field) => {
                    let (analysis, labels) = analyze_with_labels(&field, &opts.params);
                    let mut rec = FieldRecord {
                        file: input.name.clone(),
                        field: i,
                        width: Some(field.width),
                        height: Some(field.height),
                        depth: Some(field.depth),
                        pixel_size_um: field.pixel_size_um,
                        channel_source: Some(field.channel_source),
                        analysis: None,
                        error: None,
                        seconds: 0.0,
                        overlay: None,
                    };
                    if let Some(dir) = &opts.overlay_dir {
                        let name = overlay_name(&input.name, i, src.field_count());
                        let img = overlay::render(&field, &labels, &analysis);
                        let path = dir.join(name.trim_start_matches("overlays/"));
                        let written = overlay::png_bytes(&img)
                            .map_err(|e| e.to_string())
                            .and_then(|bytes| {
                                if let Some(parent) = path.parent() {
                                    std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
                                }
                                write_atomic(&path, &bytes).map_err(|e| e.to_string())
                            });
                        match written {
                            Ok(()) => rec.overlay = Some(name),
                            Err(e) => rec.error = Some(format!("cannot write overlay: {e}")),
                        }
                    }
                    rec.analysis = Some(analysis);
                    rec.seconds = t.elapsed().as_secs_f64();
                    out.push(rec);
                }
            }
        }
        out
    };
    catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|panic| {
        let msg = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        vec![FieldRecord::failed(
            &input.name,
            0,
            format!("internal error: {msg}"),
            0.0,
        )]
    })
}

/// Runs the batch on `opts.threads` workers. Output order is independent of
/// the thread count.
pub fn run(inputs: &[Input], opts: &RunOptions) -> Result<BatchResult, RunError> {
    opts.params.validate()?;
    let t0 = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .map_err(|e| RunError::Threads(e.to_string()))?;
    let threads = pool.current_num_threads();
    let bar = if opts.progress {
        let b = ProgressBar::new(inputs.len() as u64);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} files ({per_sec}, ETA {eta})",
        ) {
            b.set_style(style);
        }
        b
    } else {
        ProgressBar::hidden()
    };
    let started = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let per_file: Vec<(FileRecord, Vec<FieldRecord>)> = pool.install(|| {
        inputs
            .par_iter()
            .map(|input| {
                let (bytes, blake3) = hash_file(&input.path);
                let r = process_file(input, opts);
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
                (
                    FileRecord {
                        file: input.name.clone(),
                        path: input.path.clone(),
                        bytes,
                        blake3,
                    },
                    r,
                )
            })
            .collect()
    });
    bar.finish_and_clear();
    let mut files = Vec::with_capacity(per_file.len());
    let mut records: Vec<FieldRecord> = Vec::new();
    for (f, r) in per_file {
        files.push(f);
        records.extend(r);
    }
    records.sort_by(|a, b| (&a.file, a.field).cmp(&(&b.file, b.field)));
    let finished = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    Ok(BatchResult {
        records,
        files,
        started,
        finished,
        elapsed_s: t0.elapsed().as_secs_f64(),
        threads,
    })
}
