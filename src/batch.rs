//! The batch driver: finds the TIFFs under the inputs and analyses every
//! field of every file in parallel, in a deterministic output order.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::RunError;
use crate::io::{ChannelSource, Digest, LoadOptions, TiffSource};
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
    /// Size and modification time when the batch found it; a file that
    /// differs when it is read, or after, changed during the run.
    #[serde(skip)]
    pub stamp: Option<Stamp>,
}

impl Input {
    /// An input stamped now.
    pub fn new(name: String, path: PathBuf) -> Input {
        let stamp = Stamp::of(&path);
        Input { name, path, stamp }
    }
}

/// What a file looks like from outside: its size and modification time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Stamp {
    /// The file's stamp, or `None` when it cannot be read.
    pub fn of(path: &Path) -> Option<Stamp> {
        std::fs::metadata(path).ok().map(|m| Stamp {
            len: m.len(),
            modified: m.modified().ok(),
        })
    }

    /// How `now` differs from `self`, in words.
    fn change(&self, now: Option<Stamp>) -> Option<String> {
        match now {
            None => Some("it vanished or became unreadable".into()),
            Some(n) if n.len != self.len => Some(format!(
                "its size went from {} to {} bytes",
                self.len, n.len
            )),
            Some(n) if n.modified != self.modified => Some("its modification time changed".into()),
            Some(_) => None,
        }
    }
}

/// Whether a file name looks like a TIFF (.tif, .tiff, .ome.tif, any case).
pub fn is_tiff_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tif") || e.eq_ignore_ascii_case("tiff"))
}

fn slash_path(p: &Path) -> String {
    // Components joined by `/`; a root is already a `/` of its own
    // (`/data/a.tif`, not `//data/a.tif`).
    let mut out = String::new();
    for c in p.components() {
        let part = c.as_os_str().to_string_lossy();
        if !out.is_empty() && !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(&part);
    }
    out
}

/// Expands files and folders (walked recursively, following links, loops
/// skipped) into a sorted, duplicate-free list of TIFF inputs. TIFF-named
/// entries that cannot be looked at are kept (they become error rows);
/// other unreadable directory entries are returned as warnings.
pub fn collect_inputs(paths: &[PathBuf]) -> Result<(Vec<Input>, Vec<String>), RunError> {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for root in paths {
        let meta = std::fs::metadata(root).map_err(|e| RunError::Input {
            path: root.clone(),
            reason: e.to_string(),
        })?;
        if meta.is_file() {
            out.push(Input::new(slash_path(root), root.clone()));
            continue;
        }
        for entry in walkdir::WalkDir::new(root)
            .follow_links(true)
            .sort_by_file_name()
        {
            match entry {
                // A TIFF-named entry that cannot even be looked at (a
                // dangling or looping link, no permission) is still an
                // input: it gets an error row naming the OS's reason.
                Err(e)
                    if e.loop_ancestor().is_none()
                        && e.depth() > 0
                        && e.path().is_some_and(is_tiff_name) =>
                {
                    let path = e.path().unwrap_or(root).to_path_buf();
                    let rel = path.strip_prefix(root).unwrap_or(&path);
                    out.push(Input::new(slash_path(rel), path.clone()));
                }
                Err(e) => warnings.push(format!("skipping {e}")),
                Ok(e) if e.file_type().is_file() && is_tiff_name(e.path()) => {
                    let rel = e.path().strip_prefix(root).unwrap_or(e.path());
                    out.push(Input::new(slash_path(rel), e.path().to_path_buf()));
                }
                Ok(_) => {}
            }
        }
    }
    // The same file reached twice (a folder and a file in it, a folder
    // given twice, a link to a file also present) is analysed once, under
    // the name it was first reached by.
    let mut seen = std::collections::HashSet::new();
    out.retain(|i| seen.insert(std::fs::canonicalize(&i.path).unwrap_or_else(|_| i.path.clone())));
    out.sort();
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

    #[cfg(test)]
    fn with_seconds(mut self, s: f64) -> FieldRecord {
        self.seconds = s;
        self
    }

    /// Number of counted follicles (0 for failed fields).
    pub fn follicle_count(&self) -> usize {
        self.analysis.as_ref().map_or(0, |a| a.follicles.len())
    }
}

/// An input file as it was read: for the run record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

/// Size and hash of a file read for them alone (none when unreadable).
fn hash_file(path: &Path) -> Option<Digest> {
    use std::io::Seek;
    let mut h = blake3::Hasher::new();
    // BLAKE3's own reader loop reads 64 KiB at a time, enough for its SIMD
    // to hash many 1 KiB chunks at once (std::io::copy's 8 KiB reads made
    // a 200 MB z-stack take 72 ms instead of 50). The position after it is
    // the byte count.
    let bytes = std::fs::File::open(path)
        .and_then(|mut f| h.update_reader(&mut f).and_then(|_| f.stream_position()))
        .ok()?;
    Some(Digest {
        bytes,
        blake3: h.finalize().to_hex().to_string(),
    })
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

    #[test]
    fn file_names_use_single_slashes() {
        assert_eq!(
            slash_path(Path::new("/data/day1/a.tif")),
            "/data/day1/a.tif"
        );
        assert_eq!(slash_path(Path::new("day1/sub/a.tif")), "day1/sub/a.tif");
        assert_eq!(slash_path(Path::new("a.tif")), "a.tif");
        assert_eq!(slash_path(Path::new("./a.tif")), "./a.tif");
    }

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
    /// The run was stopped (Ctrl-C) before every file was analysed.
    pub interrupted: bool,
    /// Input files not analysed because the run was stopped.
    pub remaining_files: usize,
    /// Files carried over from an interrupted run (`--resume`).
    pub resumed_files: usize,
    /// Peak resident memory of the process so far, MiB (Linux and macOS).
    pub peak_rss_mib: Option<f64>,
}

impl BatchResult {
    /// Records of failed fields.
    pub fn failures(&self) -> impl Iterator<Item = &FieldRecord> {
        self.records.iter().filter(|r| r.error.is_some())
    }
}

/// The message of a caught panic.
fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Test hook: make the analysis of this field index panic (`usize::MAX`:
/// none).
#[cfg(test)]
static PANIC_AT_FIELD: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(usize::MAX);

/// Loads, analyses and (optionally) draws field `i` of an open file.
fn process_field(src: &mut TiffSource, input: &Input, i: usize, opts: &RunOptions) -> FieldRecord {
    let t = Instant::now();
    let field = match src.load_field(i, &opts.load) {
        Ok(f) => f,
        Err(e) => {
            return FieldRecord::failed(&input.name, i, e.to_string(), t.elapsed().as_secs_f64())
        }
    };
    #[cfg(test)]
    if PANIC_AT_FIELD.load(Ordering::SeqCst) == i {
        panic!("injected panic in field {i}");
    }
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
    // The planes go back to this worker's pool for its next field.
    crate::pool::give(labels.into_raw());
    field.recycle();
    rec.seconds = t.elapsed().as_secs_f64();
    rec
}

/// Analyses every field of one file; never panics outward. A panic inside
/// one field's analysis becomes that field's error and the file's other
/// fields go on. A file that changed since the batch found it, or while it
/// was read, gets an error on every field: its results would describe
/// bytes no one can find again.
pub fn process_file(input: &Input, opts: &RunOptions) -> Vec<FieldRecord> {
    process_file_hashed(input, opts, false).0
}

/// [`process_file`], with the file's size and BLAKE3 hash when `hash`:
/// taken from the decoder's own reads where the fields were read one after
/// the other from one open file, else by reading the file once more.
pub fn process_file_hashed(
    input: &Input,
    opts: &RunOptions,
    hash: bool,
) -> (Vec<FieldRecord>, Option<Digest>) {
    let records = |r| (r, hash.then(|| hash_file(&input.path)).flatten());
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
            TiffSource::open_hashed(&input.path, opts.load.limits)
        } else {
            TiffSource::open_with_limits(&input.path, opts.load.limits)
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
    let one = |src: &mut TiffSource, i: usize| {
        let t = Instant::now();
        catch_unwind(AssertUnwindSafe(|| process_field(src, input, i, opts))).unwrap_or_else(
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
            .map(
                |i| match TiffSource::open_with_limits(&input.path, opts.load.limits) {
                    Ok(mut own) => one(&mut own, i),
                    Err(e) => FieldRecord::failed(&input.name, i, e.to_string(), 0.0),
                },
            )
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

/// What one finished file produced: its input record and field records.
pub type FileResult = (FileRecord, Vec<FieldRecord>);

/// Peak resident set size of this process, MiB.
pub fn peak_rss_mib() -> Option<f64> {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return None;
    }
    let max = usage.ru_maxrss as f64;
    // Linux reports KiB, macOS bytes.
    Some(if cfg!(target_os = "macos") {
        max / (1024.0 * 1024.0)
    } else {
        max / 1024.0
    })
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
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} files ({per_sec}, ETA {eta})",
        ) {
            b.set_style(style);
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
                let (r, digest) = process_file_hashed(input, opts, true);
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
    let mut all: Vec<FileResult> = previous
        .into_iter()
        .chain(per_file.into_iter().flatten())
        .collect();
    all.sort_by(|a, b| a.0.file.cmp(&b.0.file));
    let mut files = Vec::with_capacity(all.len());
    let mut records: Vec<FieldRecord> = Vec::new();
    for (f, r) in all {
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
        interrupted: remaining_files > 0,
        remaining_files,
        resumed_files,
        peak_rss_mib: peak_rss_mib(),
    })
}
