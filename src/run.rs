//! What a run is made of, shared by the driver ([`crate::batch`]) and the
//! outputs ([`crate::report`]): the options, and the records of every
//! field and file.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::batch::shard::ShardRecord;
use crate::io::{ChannelSource, ChannelSpec, LoadOptions};
use crate::params::{AnalysisChoice, Params};
use crate::pipeline::FieldAnalysis;

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
    /// Save every field's label images under this folder (the run's
    /// output folder; they go to its `masks/`).
    pub masks_dir: Option<PathBuf>,
    /// The shard of a split run this run is, for its record (the inputs
    /// given to the batch are already the shard's).
    pub shard: Option<ShardRecord>,
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
    /// The role of each channel of the file, in file order.
    #[serde(default)]
    pub channels: Option<ChannelSpec>,
    /// Which analysis the field got (2D projection or 3D) and why.
    #[serde(default)]
    pub mode: Option<AnalysisChoice>,
    /// µm between slices, when known.
    #[serde(default)]
    pub z_step_um: Option<f64>,
    /// The analysis, when the field loaded.
    pub analysis: Option<FieldAnalysis>,
    /// One-line reason when it failed.
    pub error: Option<String>,
    /// Time spent on this field (load + analysis), seconds.
    pub seconds: f64,
    /// The overlay, relative to the output folder, when one was written.
    pub overlay: Option<String>,
    /// The saved label images, relative to the output folder.
    #[serde(default)]
    pub masks: Vec<String>,
    /// The density map (with overlays, for fields of at least 2 × 2
    /// bins), relative to the output folder.
    #[serde(default)]
    pub density_map: Option<String>,
}

impl FieldRecord {
    pub(crate) fn failed(file: &str, field: usize, error: String, seconds: f64) -> FieldRecord {
        FieldRecord {
            file: file.to_string(),
            field,
            width: None,
            height: None,
            depth: None,
            pixel_size_um: None,
            channel_source: None,
            channels: None,
            mode: None,
            z_step_um: None,
            analysis: None,
            error: Some(error.replace(['\n', '\r'], " ")),
            seconds,
            overlay: None,
            masks: Vec::new(),
            density_map: None,
        }
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
    /// Where `path` leads when links lie on the way (absent otherwise):
    /// the table names a file by the path the user gave, this says which
    /// file that was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_path: Option<PathBuf>,
    /// Size in bytes (absent when unreadable).
    pub bytes: Option<u64>,
    /// BLAKE3 hash of the content, hex (absent when unreadable).
    pub blake3: Option<String>,
}

/// What one finished file produced: its input record and field records.
pub type FileResult = (FileRecord, Vec<FieldRecord>);

/// Finished files in the tables' order: files by name, their fields by
/// file then field index, whatever order they finished in (the order
/// that makes a run's tables independent of threads, resumes and shards).
pub fn in_table_order(mut all: Vec<FileResult>) -> (Vec<FileRecord>, Vec<FieldRecord>) {
    all.sort_by(|a, b| a.0.file.cmp(&b.0.file));
    let mut files = Vec::with_capacity(all.len());
    let mut records: Vec<FieldRecord> = Vec::new();
    for (f, r) in all {
        files.push(f);
        records.extend(r);
    }
    records.sort_by(|a, b| (&a.file, a.field).cmp(&(&b.file, b.field)));
    (files, records)
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
