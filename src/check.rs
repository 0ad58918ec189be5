//! `follicount check`: per-field counts against an expected table.

use std::collections::BTreeMap;
use std::path::Path;

use crate::batch::inputs::Input;
use crate::run::FieldRecord;

/// One row of the expected table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// File, relative to the fixture folder.
    pub file: String,
    /// Field index (0 when the table has no `field` column).
    pub field: usize,
    /// Expected follicle count.
    pub follicles: u64,
}

/// Reads an expected-counts CSV with columns `file,follicles` and an
/// optional `field`. Errors name the line.
pub fn read_expected(path: &Path) -> Result<Vec<Expected>, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let headers = rdr
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(fc), Some(nc)) = (col("file"), col("follicles")) else {
        return Err(format!(
            "{}: needs columns `file` and `follicles`",
            path.display()
        ));
    };
    let field_c = col("field");
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| format!("{}:{line}: {e}", path.display()))?;
        let get = |c: usize| rec.get(c).unwrap_or("");
        let follicles = get(nc).parse().map_err(|_| {
            format!(
                "{}:{line}: follicles `{}` is not a count",
                path.display(),
                get(nc)
            )
        })?;
        let field = match field_c {
            Some(c) if !get(c).is_empty() => get(c).parse().map_err(|_| {
                format!(
                    "{}:{line}: field `{}` is not an index",
                    path.display(),
                    get(c)
                )
            })?,
            _ => 0,
        };
        out.push(Expected {
            file: get(fc).to_string(),
            field,
            follicles,
        });
    }
    Ok(out)
}

/// The inputs a check needs: each file named in the table, once.
pub fn inputs_for(dir: &Path, expected: &[Expected]) -> Vec<Input> {
    let mut files: Vec<&str> = expected.iter().map(|e| e.file.as_str()).collect();
    files.sort_unstable();
    files.dedup();
    files
        .into_iter()
        .map(|f| Input::new(f.to_string(), dir.join(f)))
        .collect()
}

/// One compared field.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckRow {
    /// File.
    pub file: String,
    /// Field.
    pub field: usize,
    /// Expected count.
    pub expected: u64,
    /// Counted, when the field was analysed.
    pub got: Option<u64>,
    /// Why it was not, otherwise.
    pub error: Option<String>,
    /// Within tolerance.
    pub pass: bool,
}

/// Compares counts with the expected table; a field that failed or is
/// missing never passes.
pub fn compare(expected: &[Expected], records: &[FieldRecord], tolerance: u64) -> Vec<CheckRow> {
    let by_key: BTreeMap<(&str, usize), &FieldRecord> = records
        .iter()
        .map(|r| ((r.file.as_str(), r.field), r))
        .collect();
    expected
        .iter()
        .map(|e| {
            let rec = by_key.get(&(e.file.as_str(), e.field));
            let got = rec
                .and_then(|r| r.analysis.as_ref())
                .map(|a| a.follicles.len() as u64);
            let error = match rec {
                None => Some("no such field".to_string()),
                Some(r) => r.error.clone(),
            };
            let pass = got.is_some_and(|g| g.abs_diff(e.follicles) <= tolerance);
            CheckRow {
                file: e.file.clone(),
                field: e.field,
                expected: e.follicles,
                got,
                error,
                pass,
            }
        })
        .collect()
}
