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
use crate::pipeline::{analyze, FieldAnalysis};

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
        }
    }

    /// Number of counted follicles (0 for failed fields).
    pub fn follicle_count(&self) -> usize {
        self.analysis.as_ref().map_or(0, |a| a.follicles.len())
    }
}

/// A finished batch.
#[derive(Clone, Debug, Serialize)]
pub struct BatchResult {
    /// One record per field, sorted by file then field.
    pub records: Vec<FieldRecord>,
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
                    let analysis = analyze(&field, &opts.params);
                    out.push(FieldRecord {
                        file: input.name.clone(),
                        field: i,
                        width: Some(field.width),
                        height: Some(field.height),
                        depth: Some(field.depth),
                        pixel_size_um: field.pixel_size_um,
                        channel_source: Some(field.channel_source),
                        analysis: Some(analysis),
                        error: None,
                        seconds: t.elapsed().as_secs_f64(),
                    });
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
    let per_file: Vec<Vec<FieldRecord>> = pool.install(|| {
        inputs
            .par_iter()
            .map(|input| {
                let r = process_file(input, opts);
                bar.inc(1);
                r
            })
            .collect()
    });
    bar.finish_and_clear();
    let mut records: Vec<FieldRecord> = per_file.into_iter().flatten().collect();
    records.sort_by(|a, b| (&a.file, a.field).cmp(&(&b.file, b.field)));
    Ok(BatchResult {
        records,
        elapsed_s: t0.elapsed().as_secs_f64(),
        threads,
    })
}
