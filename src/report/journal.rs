//! The run journal, `journal.jsonl` in the output folder: one JSON line per
//! finished file, appended and flushed to disk as each file finishes, so an
//! interrupted run (Ctrl-C, a crash, a power cut) loses at most the files
//! that were under way. `count --resume` reads it back, analyses only the
//! files it lacks and writes the same tables one uninterrupted run would
//! have. A complete run removes it.
//!
//! The first line is a header holding the parameters: a journal written
//! with other parameters is not resumed.
//!
//! A shard of a split run (`count --shard I/N`) ends by writing the same
//! lines, header first, to `shard.jsonl` ([`SHARD`]): that is what
//! [`super::merge`] reads to write the tables of the whole run.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::batch::shard::ShardRecord;
use crate::error::RunError;
use crate::params::Params;
use crate::run::{BatchResult, FileResult};

/// The journal's file name inside the output folder.
pub const JOURNAL: &str = "journal.jsonl";

/// A finished shard's records, in the journal's format, inside its output
/// folder.
pub const SHARD: &str = "shard.jsonl";

/// First line of a journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always "follicount journal".
    pub journal: String,
    /// Version of the tool that wrote it.
    pub version: String,
    /// The run's parameters.
    pub parameters: Params,
    /// Whether the run draws overlays.
    pub overlay: bool,
    /// Whether the run saves label images (absent in older journals).
    #[serde(default)]
    pub masks: bool,
    /// The part of the inputs this run analyses, for a shard of a split
    /// run (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRecord>,
}

/// The keys whose values differ between two JSON objects, as
/// `key a → b` (keys in either; absent shown as `–`), in key order.
pub fn value_differences(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let (a, b) = (
        a.as_object().unwrap_or(&empty),
        b.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let show = |v: Option<&serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => "–".to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    };
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k} {} → {}", show(a.get(k)), show(b.get(k))))
        .collect()
}

impl Header {
    /// What differs from `other`, as `name was → is`: parameters, overlay,
    /// masks, tool version, shard and its inputs.
    pub fn differences(&self, other: &Header) -> Vec<String> {
        let mut out = self.settings_differences(other);
        let shard = |h: &Header| h.shard.as_ref().map(|s| s.shard);
        let name =
            |s: Option<crate::batch::shard::Shard>| s.map_or("–".into(), |s| s.to_string());
        if shard(self) != shard(other) {
            out.push(format!(
                "--shard {} → {}",
                name(shard(self)),
                name(shard(other))
            ));
        } else if self.shard != other.shard {
            out.push("the input files (added, removed or changed in size)".into());
        }
        out
    }

    /// [`Header::differences`] but for the shard: what makes two shards'
    /// results unfit to be merged.
    pub fn settings_differences(&self, other: &Header) -> Vec<String> {
        let json = |v: &Params| serde_json::to_value(v).unwrap_or_default();
        let mut out = value_differences(&json(&self.parameters), &json(&other.parameters));
        let on = |b: bool| if b { "on" } else { "off" };
        if self.overlay != other.overlay {
            out.push(format!(
                "--overlay {} → {}",
                on(self.overlay),
                on(other.overlay)
            ));
        }
        if self.masks != other.masks {
            out.push(format!(
                "--save-masks {} → {}",
                on(self.masks),
                on(other.masks)
            ));
        }
        if self.version != other.version {
            out.push(format!("version {} → {}", self.version, other.version));
        }
        out
    }

    /// The header for a run with these settings.
    pub fn new(
        parameters: &Params,
        overlay: bool,
        masks: bool,
        shard: Option<ShardRecord>,
    ) -> Header {
        Header {
            journal: "follicount journal".into(),
            version: crate::VERSION.into(),
            parameters: parameters.clone(),
            overlay,
            masks,
            shard,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Line {
    file: crate::run::FileRecord,
    fields: Vec<crate::run::FieldRecord>,
}

/// An open journal, appended to by the batch's workers.
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> RunError + '_ {
    move |source| RunError::Output {
        path: path.to_path_buf(),
        source,
    }
}

impl Journal {
    /// Starts a new journal in `dir` (replacing any) with `header`.
    pub fn create(dir: &Path, header: &Header) -> Result<Journal, RunError> {
        let path = dir.join(JOURNAL);
        let mut file = File::create(&path).map_err(io_err(&path))?;
        let mut line = serde_json::to_vec(header).unwrap_or_default();
        line.push(b'\n');
        file.write_all(&line)
            .and_then(|_| file.sync_data())
            .map_err(io_err(&path))?;
        Ok(Journal {
            path,
            file: Mutex::new(file),
        })
    }

    /// Reopens the journal in `dir` to append to it.
    pub fn reopen(dir: &Path) -> Result<Journal, RunError> {
        let path = dir.join(JOURNAL);
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        Ok(Journal {
            path,
            file: Mutex::new(file),
        })
    }

    /// Appends one finished file, on disk before it returns. A failed
    /// write is reported on stderr once per file and the run goes on (the
    /// tables are still written at the end).
    pub fn record(&self, result: &FileResult) {
        let line = Line {
            file: result.0.clone(),
            fields: result.1.clone(),
        };
        let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
        bytes.push(b'\n');
        let mut f = match self.file.lock() {
            Ok(f) => f,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Err(e) = f.write_all(&bytes).and_then(|_| f.sync_data()) {
            eprintln!(
                "follicount: warning: cannot write {}: {e}",
                self.path.display()
            );
        }
    }

    /// Removes the journal (the run is complete).
    pub fn remove(self) -> Result<(), RunError> {
        drop(self.file);
        std::fs::remove_file(&self.path).map_err(io_err(&self.path))
    }
}

/// Writes a finished run's records to `dir`/[`SHARD`] (through a temporary
/// file and a rename), `header` first, one line per file in table order.
pub fn write_shard(dir: &Path, header: &Header, result: &BatchResult) -> Result<(), RunError> {
    let mut bytes = serde_json::to_vec(header).unwrap_or_default();
    bytes.push(b'\n');
    let mut records = result.records.iter().peekable();
    for file in &result.files {
        let mut fields = Vec::new();
        while let Some(r) = records.next_if(|r| r.file == file.file) {
            fields.push(r.clone());
        }
        let line = Line {
            file: file.clone(),
            fields,
        };
        bytes.extend(serde_json::to_vec(&line).unwrap_or_default());
        bytes.push(b'\n');
    }
    super::write_atomic(&dir.join(SHARD), &bytes)
}

/// Reads the journal in `dir`: its header and every complete line. A last
/// line cut short by the interruption is ignored (that file is analysed
/// again).
pub fn read(dir: &Path) -> Result<(Header, Vec<FileResult>), String> {
    read_file(&dir.join(JOURNAL))
}

/// Reads a journal or a shard's records from `path`.
pub fn read_file(path: &Path) -> Result<(Header, Vec<FileResult>), String> {
    let file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut lines = BufReader::new(file).lines();
    let header: Header = lines
        .next()
        .and_then(|l| l.ok())
        .and_then(|l| serde_json::from_str(&l).ok())
        .ok_or_else(|| format!("{} has no readable header", path.display()))?;
    let mut files = Vec::new();
    for line in lines {
        let Ok(line) = line else { break };
        match serde_json::from_str::<Line>(&line) {
            Ok(l)
                if files
                    .iter()
                    .any(|(f, _): &FileResult| f.file == l.file.file) => {}
            Ok(l) => files.push((l.file, l.fields)),
            Err(_) => break,
        }
    }
    Ok((header, files))
}
