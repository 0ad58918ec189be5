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
    /// Field index; `None` when the table has no `field` column: the
    /// count is the whole file's, over all its fields.
    pub field: Option<usize>,
    /// Expected follicle count.
    pub follicles: u64,
}

/// Reads an expected-counts CSV with columns `file,follicles` and an
/// optional `field` (comma- or semicolon-separated). Errors name the line.
pub fn read_expected(path: &Path) -> Result<Vec<Expected>, String> {
    let (mut rdr, headers) = crate::table::open(path)?;
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
            Some(c) if !get(c).is_empty() => Some(get(c).parse().map_err(|_| {
                format!(
                    "{}:{line}: field `{}` is not an index",
                    path.display(),
                    get(c)
                )
            })?),
            Some(_) => Some(0),
            None => None,
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
    /// Field (`None`: the whole file).
    pub field: Option<usize>,
    /// Expected count.
    pub expected: u64,
    /// Counted, when the field was analysed.
    pub got: Option<u64>,
    /// Why it was not, otherwise.
    pub error: Option<String>,
    /// Within tolerance.
    pub pass: bool,
}

/// Compares counts with the expected table — a row without a field with
/// the sum over every field of its file; a field that failed or is
/// missing never passes.
pub fn compare(expected: &[Expected], records: &[FieldRecord], tolerance: u64) -> Vec<CheckRow> {
    let mut by_file: BTreeMap<&str, Vec<&FieldRecord>> = BTreeMap::new();
    for r in records {
        by_file.entry(r.file.as_str()).or_default().push(r);
    }
    expected
        .iter()
        .map(|e| {
            let recs: Vec<&FieldRecord> = by_file
                .get(e.file.as_str())
                .map(|v| {
                    v.iter()
                        .filter(|r| e.field.is_none_or(|f| r.field == f))
                        .copied()
                        .collect()
                })
                .unwrap_or_default();
            let error = if recs.is_empty() {
                Some("no such field".to_string())
            } else {
                recs.iter().find_map(|r| r.error.clone())
            };
            let got = if error.is_some() {
                None
            } else {
                recs.iter()
                    .map(|r| r.analysis.as_ref().map(|a| a.follicles.len() as u64))
                    .sum::<Option<u64>>()
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
