//! The follicount command line: a thin front end over the library.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use follicount::batch::shard::{Shard, ShardError, ShardRecord};
use follicount::batch::{self, inputs};
use follicount::check;
use follicount::io::{ChannelSpec, LoadOptions};
use follicount::params::Params;
use follicount::report::{self, journal};
use follicount::run::{BatchResult, RunOptions};
use follicount::score;
use follicount::segment::background::Method as Background;
use follicount::segment::threshold::Method as Threshold;

mod allocator;

/// Counts regenerated hair follicles in multichannel confocal TIFFs of mouse
/// skin (P-cadherin, Sox9, DAPI).
///
/// A follicle is a connected P-cadherin-positive object (after flat-field and
/// background correction, thresholding, hole filling and splitting of
/// touching follicles) whose area is within [--min-area, --max-area] µm² and
/// which holds at least --min-sox9 Sox9+ nuclei (DAPI nuclei whose mean Sox9
/// reaches the Sox9 threshold, inside or within 3 µm of the rim). Lengths and
/// areas are in µm / µm²; for a file with no known pixel size they are read
/// as pixels / px².
#[derive(Parser, Debug)]
#[command(name = "follicount", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Count follicles in TIFF files and folders; write fields.csv,
    /// follicles.csv and run.json.
    #[command(after_help = "Examples:\n  follicount count day1/ -o day1-out\n  \
        follicount count a.tif b.ome.tif --channels dapi,pcad,sox9 --pixel-size 0.65 -j 2\n\n\
        Exit status: 0 all fields analysed, 1 some fields failed (listed in fields.csv \
        and on stderr), 2 usage error or outputs could not be written, 130 stopped by \
        Ctrl-C (results so far written, marked partial; finish with --resume).")]
    Count {
        /// Files or folders (folders are walked recursively for .tif/.tiff).
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Output folder.
        #[arg(short = 'o', long = "out", default_value = "follicount-out")]
        out: PathBuf,
        /// Write a QC picture per field to DIR/overlays/ (counted follicles
        /// outlined yellow and numbered, rejected candidates magenta with a
        /// reason code: small, large, faint, sox9).
        #[arg(long)]
        overlay: bool,
        /// Save what the pipeline saw, per field, to DIR/masks/ as label
        /// TIFFs for Fiji or napari: <file>.candidates.tif (P-cadherin
        /// objects, counted or not, each row of masks/candidates.csv by its
        /// label, with its verdict and contrast), .follicles.tif (counted
        /// follicles by id, as in follicles.csv), .nuclei.tif (DAPI
        /// objects), .sox9_nuclei.tif (the Sox9+ nuclei counted).
        #[arg(long)]
        save_masks: bool,
        /// Replace the results of an earlier run in the output folder
        /// (fields.csv, follicles.csv, run.json, report.html, overlays/,
        /// masks/).
        #[arg(long, conflicts_with = "resume")]
        force: bool,
        /// Finish an interrupted run in the output folder: files already in
        /// its journal are not analysed again; the tables come out as one
        /// uninterrupted run's.
        #[arg(long)]
        resume: bool,
        /// Analyse only shard I of N (from 1) of the inputs, split by file
        /// size the same way by every shard; `auto` takes I and N from a
        /// SLURM job array. Join the shards' folders with `merge`.
        #[arg(long, value_name = "I/N|auto", value_parser = parse_shard)]
        shard: Option<ShardArg>,
        #[command(flatten)]
        common: Common,
    },
    /// Merge the output folders of a split run (`count --shard I/N`, one
    /// per shard) into the outputs of one run over all the inputs.
    #[command(
        after_help = "Example:\n  follicount count day1/ --shard 1/2 -o out/shard-1\n  \
        follicount count day1/ --shard 2/2 -o out/shard-2\n  \
        follicount merge out/shard-* -o out/all\n\n\
        fields.csv and follicles.csv come out byte-identical to one `count` over the \
        same inputs. The shards must be finished, of the same inputs and options, and \
        all there once; a failed shard can be run again alone and the merge repeated.\n\n\
        Exit status: 0 all fields analysed, 1 some fields failed, 2 the shards do not \
        make one run, or outputs could not be written."
    )]
    Merge {
        /// The shards' output folders.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Output folder.
        #[arg(short = 'o', long = "out", default_value = "follicount-out")]
        out: PathBuf,
        /// Replace the results of an earlier run in the output folder.
        #[arg(long)]
        force: bool,
    },
    /// Run the analysis on the files named in an expected-counts CSV and fail
    /// when any count differs by more than the tolerance.
    #[command(
        after_help = "The expected CSV has columns file,follicles and optionally field; \
        files are relative to FIXTURE_DIR.\n\nExample:\n  \
        follicount check fixtures --expected fixtures/expected.csv\n\n\
        Exit status: 0 every field within tolerance, 1 otherwise, 2 usage error."
    )]
    Check {
        /// Folder the expected CSV's file names are relative to.
        fixture_dir: PathBuf,
        /// Expected counts CSV (file,[field,]follicles).
        #[arg(long)]
        expected: PathBuf,
        /// Allowed absolute difference per field.
        #[arg(long, default_value_t = 0)]
        tolerance: u64,
        /// Also write the run's tables, report.html and an overlay per
        /// field into DIR, a new folder (e.g. for a CI job to keep as
        /// artefacts when a count drifts).
        #[arg(short = 'o', long = "out", value_name = "DIR")]
        out: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Print the analysis parameters as a commented TOML config file.
    #[command(
        after_help = "Example:\n  follicount config --print-defaults > lab.toml\n  \
        follicount count day1/ --config lab.toml\n\n\
        A previous run's run.json works as a config too: \
        follicount count day1/ --config old-out/run.json"
    )]
    Config {
        /// Print the defaults (also what plain `follicount config` does).
        #[arg(long)]
        print_defaults: bool,
    },
    /// Compare a `count` output folder with manual annotations: precision,
    /// recall, F1 and count errors per field and overall.
    #[command(
        after_help = "TRUTH.csv has columns file,x,y (one row per follicle a person marked; \
        x = column, y = row, pixels; optional field column) or file,follicles for counts only. \
        Detections and marks are matched one-to-one, nearest first, within --radius.\n\n\
        Example:\n  follicount count fixtures/hard -o hard-out\n  \
        follicount score hard-out --truth fixtures/hard/truth.csv\n\n\
        Exit status: 0 scored, 2 usage error or unreadable input."
    )]
    Score {
        /// Output folder of `follicount count` (fields.csv, follicles.csv).
        results_dir: PathBuf,
        /// Manual annotations CSV.
        #[arg(long)]
        truth: PathBuf,
        /// Matching radius, µm (pixels for fields without a pixel size).
        #[arg(long, value_name = "UM", default_value_t = 15.0)]
        radius: f64,
        /// Print the scores as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// `--shard`: a fixed shard, or the SLURM array task's.
#[derive(Clone, Copy, Debug)]
enum ShardArg {
    Fixed(Shard),
    Auto,
}

fn parse_shard(s: &str) -> Result<ShardArg, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(ShardArg::Auto);
    }
    s.parse()
        .map(ShardArg::Fixed)
        .map_err(|e: ShardError| e.to_string())
}

#[derive(Args, Debug)]
struct Common {
    /// Channel roles in file order, e.g. `pcad,sox9,dapi` or
    /// `dapi,skip,pcad,sox9` [default: from metadata names, else pcad,sox9,dapi].
    #[arg(long, value_name = "LIST")]
    channels: Option<ChannelSpec>,
    /// Pixel size in µm, overriding the files' metadata.
    #[arg(long, value_name = "UM")]
    pixel_size: Option<f64>,
    /// z step in µm (distance between slices), overriding the files'
    /// metadata.
    #[arg(long, value_name = "UM")]
    z_step: Option<f64>,
    /// z-stacks: auto (3D for a deep stack with a known z step), 2d (the
    /// z max-projection) or 3d [default: auto].
    #[arg(long, value_name = "MODE")]
    mode: Option<follicount::params::Mode>,
    /// Worker threads; 0 means one per core [default: 0].
    #[arg(
        short = 'j',
        long = "jobs",
        value_name = "N",
        default_value_t = 0,
        hide_default_value = true
    )]
    jobs: usize,
    /// Analysis parameters: a TOML file (see `follicount config
    /// --print-defaults`) or a previous run's run.json. Flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// One line per finished file on stderr.
    #[arg(short, long)]
    verbose: bool,
    /// Smallest follicle area, µm² [default: 400].
    #[arg(long, value_name = "UM2")]
    min_area: Option<f64>,
    /// Largest follicle area, µm² [default: 15000].
    #[arg(long, value_name = "UM2")]
    max_area: Option<f64>,
    /// Fewest Sox9+ nuclei in a follicle [default: 3].
    #[arg(long, value_name = "N")]
    min_sox9: Option<u32>,
    /// Background correction of P-cadherin and Sox9: none, top-hat or
    /// gaussian [default: top-hat].
    #[arg(long, value_name = "METHOD")]
    background: Option<Background>,
    /// Background radius (top-hat half-side or Gaussian σ), µm
    /// [default: half the radius of a disc of --max-area, 34.5 µm].
    #[arg(long, value_name = "UM")]
    background_radius: Option<f64>,
    /// Threshold per channel: otsu, li, triangle, noise[:K] or a fixed
    /// value, e.g. `pcad=li,sox9=otsu,dapi=200` [default: pcad=triangle
    /// (a floor; each follicle is also cut at 0.3 of its own brightness),
    /// sox9=otsu, dapi=otsu].
    #[arg(long, value_name = "LIST")]
    threshold: Option<String>,
    /// Do not split touching follicles or crowded nuclei.
    #[arg(long)]
    no_split: bool,
    /// Do not divide the channels by the large-scale DAPI profile.
    #[arg(long)]
    no_flat_field: bool,
    /// Sanity limit: most bytes one field may decode, e.g. 6G or 512M
    /// [default: 6G, a 4096² × 3 × 64-slice 16-bit stack]. Larger fields
    /// are error rows.
    #[arg(long, value_name = "BYTES", value_parser = follicount::params::parse_size)]
    max_field_bytes: Option<u64>,
    /// Sanity limit: most samples (width × height × channels × slices)
    /// one field may decode [default: 3G].
    #[arg(long, value_name = "N", value_parser = follicount::params::parse_size)]
    max_field_samples: Option<u64>,
    /// Sanity limit: most pixels in one plane [default: 64M = 8192²].
    #[arg(long, value_name = "N", value_parser = follicount::params::parse_size)]
    max_plane_pixels: Option<u64>,
    /// Sanity limit: most pages (IFDs) in one file [default: 100000].
    #[arg(long, value_name = "N", value_parser = follicount::params::parse_size)]
    max_pages: Option<u64>,
}

impl Common {
    fn options(&self) -> Result<RunOptions> {
        let mut params = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config {}", path.display()))?;
                Params::from_config_text(&path.to_string_lossy(), &text)
                    .with_context(|| format!("config {}", path.display()))?
            }
            None => Params::default(),
        };
        if let Some(v) = self.min_area {
            params.min_area_um2 = v;
        }
        if let Some(v) = self.max_area {
            params.max_area_um2 = v;
        }
        if let Some(v) = self.min_sox9 {
            params.min_sox9_nuclei = v;
        }
        if let Some(c) = &self.channels {
            params.channels = Some(c.clone());
        }
        if let Some(px) = self.pixel_size {
            params.pixel_size_um = Some(px);
        }
        if let Some(dz) = self.z_step {
            params.z_step_um = Some(dz);
        }
        if let Some(m) = self.mode {
            params.mode = m;
        }
        if let Some(b) = self.background {
            params.background = b;
        }
        if let Some(r) = self.background_radius {
            params.background_radius_um = Some(r);
        }
        if let Some(list) = &self.threshold {
            for item in list.split(',') {
                let (ch, method) = item
                    .split_once('=')
                    .with_context(|| format!("--threshold item `{item}` is not CHANNEL=METHOD"))?;
                let method: Threshold = method.parse().map_err(anyhow::Error::msg)?;
                match ch.trim().to_ascii_lowercase().as_str() {
                    "pcad" => params.threshold_pcad = method,
                    "sox9" => params.threshold_sox9 = method,
                    "dapi" => params.threshold_dapi = method,
                    other => bail!("--threshold: unknown channel `{other}` (pcad, sox9 or dapi)"),
                }
            }
        }
        if self.no_split {
            params.split = false;
        }
        if self.no_flat_field {
            params.flat_field = false;
        }
        if let Some(v) = self.max_field_bytes {
            params.max_field_bytes = v;
        }
        if let Some(v) = self.max_field_samples {
            params.max_field_samples = v;
        }
        if let Some(v) = self.max_plane_pixels {
            params.max_plane_pixels = v;
        }
        if let Some(v) = self.max_pages {
            params.max_pages = v;
        }
        params.validate()?;
        Ok(RunOptions {
            load: LoadOptions {
                channels: params.channels.clone(),
                pixel_size_um: params.pixel_size_um,
                z_step_um: params.z_step_um,
                limits: params.limits(),
            },
            params,
            threads: self.jobs,
            progress: std::io::stderr().is_terminal(),
            verbose: self.verbose,
            overlay_dir: None,
            masks_dir: None,
            shard: None,
        })
    }
}

/// Creates and removes a file in `dir` to prove it is writable.
fn tempfile_probe(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".follicount-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(probe)
}

fn report_failures(result: &BatchResult) {
    for r in result.failures() {
        eprintln!(
            "follicount: error: {} (field {}): {}",
            r.file,
            r.field,
            r.error.as_deref().unwrap_or("")
        );
    }
}

/// What to do with an earlier run's results in the output folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Existing {
    Refuse,
    Replace,
    Resume,
}

impl Existing {
    fn from_flags(force: bool, resume: bool) -> Existing {
        match (force, resume) {
            (true, _) => Existing::Replace,
            (false, true) => Existing::Resume,
            _ => Existing::Refuse,
        }
    }
}

/// Set by the first Ctrl-C (or SIGTERM): no new file is started.
static STOP: AtomicBool = AtomicBool::new(false);

/// Exit status of a run stopped by Ctrl-C (128 + SIGINT), as shells use.
const INTERRUPTED: u8 = 130;

fn install_interrupt_handler() {
    let result = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            eprintln!("follicount: interrupted again, quitting now");
            std::process::exit(INTERRUPTED as i32);
        }
        eprintln!(
            "follicount: interrupted: finishing the files under way, then writing the \
             results so far (Ctrl-C again to quit at once)"
        );
    });
    if let Err(e) = result {
        eprintln!("follicount: warning: cannot catch Ctrl-C: {e}");
    }
}

/// `--resume` on a folder whose run is complete (no journal): nothing to
/// do if its parameters are these — exit as that run did (1 when it has
/// error rows) — else a usage error naming what differs.
fn finished_run(out: &Path, now: &journal::Header) -> Result<ExitCode> {
    // A finished shard's records start with its settings, which also say
    // which shard of which inputs it is; a whole run's are in run.json.
    let differ = match journal::read_file(&out.join(journal::SHARD)) {
        Ok((header, _)) => header.differences(now),
        Err(_) => {
            let record: serde_json::Value = std::fs::read(out.join("run.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .with_context(|| {
                    format!(
                        "{} holds results but no readable run.json or journal; use --force to \
                         run again",
                        out.display()
                    )
                })?;
            let current = serde_json::to_value(&now.parameters).unwrap_or_default();
            journal::value_differences(&record["parameters"], &current)
        }
    };
    if !differ.is_empty() {
        bail!(
            "{} holds a complete run with other settings ({}); use --force to run again \
             with these",
            out.display(),
            differ.join(", ")
        );
    }
    let failed = csv::Reader::from_path(out.join("fields.csv"))
        .map(|mut r| {
            r.records()
                .filter(|rec| rec.as_ref().map_or(true, |rec| rec.get(8) == Some("error")))
                .count()
        })
        .unwrap_or(0);
    eprintln!(
        "follicount: {} holds a complete run with these parameters; nothing to resume \
         ({failed} failed fields)",
        out.display()
    );
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn count(
    inputs: &[PathBuf],
    out: &Path,
    overlay: bool,
    save_masks: bool,
    existing: Existing,
    shard: Option<ShardArg>,
    common: &Common,
) -> Result<ExitCode> {
    let mut opts = common.options()?;
    if overlay {
        opts.overlay_dir = Some(out.join("overlays"));
    }
    if save_masks {
        opts.masks_dir = Some(out.to_path_buf());
    }
    let shard = match shard {
        None => None,
        Some(ShardArg::Fixed(s)) => Some(s),
        Some(ShardArg::Auto) => Some(Shard::from_slurm(|k| std::env::var(k).ok())?),
    };
    // Refuse an unusable output folder, or one holding another run's
    // results, before any work starts.
    std::fs::create_dir_all(out)
        .and_then(|_| tempfile_probe(out))
        .with_context(|| format!("cannot write to output folder {}", out.display()))?;
    let found = report::existing_outputs(out);
    if existing == Existing::Refuse && !found.is_empty() {
        bail!(
            "output folder {} already holds results ({}); pass --force to replace them \
             or --resume to finish an interrupted run",
            out.display(),
            found.join(", ")
        );
    }
    let (mut files, warnings) = inputs::collect_inputs(inputs)?;
    for w in warnings {
        eprintln!("follicount: warning: {w}");
    }
    if files.is_empty() {
        bail!("{}", inputs::nothing_found(inputs));
    }
    // A shard finds every input as a whole run would, then keeps its part.
    if let Some(s) = shard {
        let part = s.pick(&files);
        eprintln!(
            "follicount: shard {s}: {} of {} files",
            part.len(),
            files.len()
        );
        opts.shard = Some(ShardRecord::new(s, &files, &part));
        files = part;
    }
    let header = journal::Header::new(&opts.params, overlay, save_masks, opts.shard.clone());
    // Resuming proper: an interrupted run's journal is there to finish.
    let resuming = existing == Existing::Resume && found.contains(&journal::JOURNAL);
    let mut previous = Vec::new();
    match existing {
        Existing::Refuse | Existing::Replace => {}
        // Nothing there yet: --resume starts the run (scripts pass it
        // always).
        Existing::Resume if found.is_empty() => {}
        Existing::Resume if !resuming => return finished_run(out, &header),
        Existing::Resume => {
            let (before, done) = journal::read(out).map_err(anyhow::Error::msg)?;
            let differ = before.differences(&header);
            if !differ.is_empty() {
                bail!(
                    "{} was written with other settings ({}); resume with the same settings, \
                     or use --force to start over",
                    out.join(journal::JOURNAL).display(),
                    differ.join(", ")
                );
            }
            previous = done;
        }
    }
    // Only now that there is something to do are old results replaced, and
    // temporaries a killed run left behind cleared.
    if existing == Existing::Replace {
        report::clear_outputs(out)?;
    }
    report::remove_stale_temporaries(out);
    let journal = if resuming {
        journal::Journal::reopen(out)?
    } else {
        journal::Journal::create(out, &header)?
    };
    install_interrupt_handler();
    let result = batch::run_controlled(&files, &opts, &STOP, previous, &|r| journal.record(r))?;
    report::write_outputs(out, &result, &opts, "count")?;
    report_failures(&result);
    let failed = result.failures().count();
    let follicles: usize = result.records.iter().map(|r| r.follicle_count()).sum();
    if result.interrupted {
        eprintln!(
            "follicount: interrupted after {} of {} files ({} fields, {} follicles, {} failed); \
             partial results in {} — finish with the same command and --resume",
            files.len() - result.remaining_files,
            files.len(),
            result.records.len(),
            follicles,
            failed,
            out.display()
        );
        return Ok(ExitCode::from(INTERRUPTED));
    }
    if opts.shard.is_some() {
        journal::write_shard(out, &header, &result)?;
    }
    journal.remove()?;
    eprintln!(
        "follicount: {} fields, {} follicles, {} failed, {:.2} s -> {}",
        result.records.len(),
        follicles,
        failed,
        result.elapsed_s,
        out.display()
    );
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_merge(shards: &[PathBuf], out: &Path, force: bool) -> Result<ExitCode> {
    // The output folder must not be one of the shards (replacing its
    // results would delete the shard).
    let real = |p: &Path| std::fs::canonicalize(p).ok();
    if let Some(s) = shards
        .iter()
        .find(|s| real(s).is_some() && real(s) == real(out))
    {
        bail!(
            "the output folder {} is the shard {}; merge into a new folder",
            out.display(),
            s.display()
        );
    }
    let found = report::existing_outputs(out);
    if !found.is_empty() && !force {
        bail!(
            "output folder {} already holds results ({}); pass --force to replace them",
            out.display(),
            found.join(", ")
        );
    }
    let merged = report::merge::merge(shards, out, force)?;
    let result = &merged.result;
    report_failures(result);
    let failed = result.failures().count();
    let follicles: usize = result.records.iter().map(|r| r.follicle_count()).sum();
    eprintln!(
        "follicount: merged {} shards: {} files, {} fields, {} follicles, {} failed -> {}",
        merged.shards.len(),
        result.files.len(),
        result.records.len(),
        follicles,
        failed,
        out.display()
    );
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn run_check(
    dir: &Path,
    expected: &Path,
    tolerance: u64,
    out: Option<&Path>,
    common: &Common,
) -> Result<ExitCode> {
    let mut opts = common.options()?;
    let table = check::read_expected(expected).map_err(anyhow::Error::msg)?;
    if table.is_empty() {
        bail!("{} lists no fields", expected.display());
    }
    if let Some(out) = out {
        let found = report::existing_outputs(out);
        if !found.is_empty() {
            bail!(
                "output folder {} already holds results ({}); give check a new folder",
                out.display(),
                found.join(", ")
            );
        }
        opts.overlay_dir = Some(out.join("overlays"));
    }
    let files = check::inputs_for(dir, &table);
    let result = batch::run(&files, &opts)?;
    if let Some(out) = out {
        report::write_outputs(out, &result, &opts, "check")?;
    }
    let rows = check::compare(&table, &result.records, tolerance);
    let bad: Vec<_> = rows.iter().filter(|r| !r.pass).collect();
    println!(
        "{:<40} {:>5} {:>8} {:>5}  status",
        "file", "field", "expected", "got"
    );
    for r in &rows {
        let got = r.got.map_or("-".to_string(), |g| g.to_string());
        let status = match (&r.error, r.pass) {
            (_, true) => "ok".to_string(),
            (Some(e), false) => format!("ERROR {e}"),
            (None, false) => "MISMATCH".to_string(),
        };
        println!(
            "{:<40} {:>5} {:>8} {:>5}  {status}",
            r.file,
            r.field.map_or("all".to_string(), |f| f.to_string()),
            r.expected,
            got
        );
    }
    println!(
        "check: {} fields, {} within tolerance {tolerance}, {} failed",
        rows.len(),
        rows.len() - bad.len(),
        bad.len()
    );
    Ok(if bad.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_score(dir: &Path, truth_path: &Path, radius: f64, json: bool) -> Result<ExitCode> {
    if !(radius.is_finite() && radius > 0.0) {
        bail!("--radius must be a positive number of µm, got {radius}");
    }
    let truth = score::read_truth(truth_path).map_err(anyhow::Error::msg)?;
    let results = score::read_results(dir).map_err(anyhow::Error::msg)?;
    let annotated = truth.files();
    if !annotated
        .iter()
        .any(|f| results.keys().any(|(file, _)| file == f))
    {
        let first = |v: Vec<&str>| v.first().map_or("none".into(), |f| format!("`{f}`"));
        bail!(
            "none of the {} files annotated in {} is in {}/fields.csv (it names {}, the \
             annotations {}); score the run that analysed them, or fix the names",
            annotated.len(),
            truth_path.display(),
            dir.display(),
            first(results.keys().map(|k| k.0.as_str()).collect()),
            first(annotated.clone())
        );
    }
    let s = score::score(&results, &truth, radius);
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
    println!(
        "{:<32} {:>5} {:>5} {:>8} {:>7} {:>9} {:>6} {:>8} {:>8}",
        "file", "field", "truth", "detected", "matched", "precision", "recall", "F1", "count_err"
    );
    for f in &s.fields {
        println!(
            "{:<32} {:>5} {:>5} {:>8} {:>7} {:>9} {:>6} {:>8} {:>8}{}",
            f.file,
            f.field,
            f.truth,
            f.detected,
            f.matched.map_or("-".to_string(), |m| m.to_string()),
            opt(f.precision),
            opt(f.recall),
            opt(f.f1),
            f.abs_count_error,
            if f.missing {
                "  (missing or failed)"
            } else {
                ""
            }
        );
    }
    println!(
        "overall: {} fields, precision {}, recall {}, F1 {}, mean absolute count error {:.2}, \
         mean relative count error {}",
        s.fields.len(),
        opt(s.precision),
        opt(s.recall),
        opt(s.f1),
        s.mean_abs_count_error,
        s.mean_rel_count_error
            .map_or("-".to_string(), |v| format!("{:.1}%", 100.0 * v)),
    );
    Ok(ExitCode::SUCCESS)
}

/// The commands that print tables to stdout (`score`, `check`,
/// `config`) end quietly when their reader goes away (`| head`), as Unix
/// tools do, instead of panicking on the broken pipe; `count` keeps the
/// signal ignored, so a closed terminal never cuts a batch short.
fn quiet_on_broken_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any
    // thread starts; no handler of ours is replaced.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    allocator::tune();
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Command::Score { .. } | Command::Check { .. } | Command::Config { .. }
    ) {
        quiet_on_broken_pipe();
    }
    let outcome = match &cli.command {
        Command::Count {
            inputs,
            out,
            overlay,
            save_masks,
            force,
            resume,
            shard,
            common,
        } => count(
            inputs,
            out,
            *overlay,
            *save_masks,
            Existing::from_flags(*force, *resume),
            *shard,
            common,
        ),
        Command::Merge { shards, out, force } => run_merge(shards, out, *force),
        Command::Config { .. } => {
            print!("{}", Params::defaults_toml());
            Ok(ExitCode::SUCCESS)
        }
        Command::Check {
            fixture_dir,
            expected,
            tolerance,
            out,
            common,
        } => run_check(fixture_dir, expected, *tolerance, out.as_deref(), common),
        Command::Score {
            results_dir,
            truth,
            radius,
            json,
        } => run_score(results_dir, truth, *radius, *json),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("follicount: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
