//! `report.html`: one self-contained page per run (no network, no
//! script): summary, a table of fields with their channel mapping and
//! overlay thumbnails carried inside the page, failures, and a histogram
//! of follicle areas as inline SVG.

use std::collections::HashMap;
use std::fmt::Write as _;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::io::ChannelSource;
use crate::run::BatchResult;

/// Characters escaped in a link to a file: all but letters, digits, the
/// path separator and `-._~` (a `#` or `%` in a name would break it).
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A relative link to the file at `path` (`/`-separated), as an escaped
/// attribute value.
fn href(path: &str) -> String {
    escape(&utf8_percent_encode(path, PATH).to_string())
}

/// Escapes text for HTML content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Histogram of `values` as an SVG bar chart with `bins` bars.
fn histogram_svg(values: &[f64], bins: usize, unit: &str) -> String {
    let (w, h, pad) = (600.0, 220.0, 40.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"areas\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"follicle areas\">"
    );
    if values.is_empty() || bins == 0 {
        svg.push_str("<text x=\"20\" y=\"40\">no follicles</text></svg>");
        return svg;
    }
    let lo = values.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut counts = vec![0usize; bins];
    for v in values {
        let b = (((v - lo) / span) * bins as f64) as usize;
        counts[b.min(bins - 1)] += 1;
    }
    let max = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let bw = (w - 2.0 * pad) / bins as f64;
    for (i, &c) in counts.iter().enumerate() {
        let bh = (h - 2.0 * pad) * c as f64 / max;
        let _ = write!(
            svg,
            "<rect class=\"bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#c0392b\">\
             <title>{:.0}–{:.0} {unit}: {c}</title></rect>",
            pad + i as f64 * bw + 1.0,
            h - pad - bh,
            (bw - 2.0).max(1.0),
            bh,
            lo + span * i as f64 / bins as f64,
            lo + span * (i + 1) as f64 / bins as f64,
        );
    }
    let _ = write!(
        svg,
        "<line x1=\"{pad}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"#333\"/>\
         <text x=\"{pad}\" y=\"{ty}\" font-size=\"12\">{lo:.0}</text>\
         <text x=\"{x2}\" y=\"{ty}\" font-size=\"12\" text-anchor=\"end\">{hi:.0} {unit}</text>\
         <text x=\"{pad}\" y=\"20\" font-size=\"12\">{n} follicles, tallest bar {max}</text></svg>",
        y = h - pad,
        x2 = w - pad,
        ty = h - pad + 16.0,
        n = values.len(),
        max = max as usize,
    );
    svg
}

/// The whole page; `thumbnails` maps an overlay's name (as in the
/// records) to its `data:` URI.
pub fn report_html(result: &BatchResult, thumbnails: &HashMap<String, String>) -> String {
    let fields = result.records.len();
    let failed: Vec<_> = result.failures().collect();
    let ok: Vec<_> = result
        .records
        .iter()
        .filter(|r| r.analysis.is_some() && r.error.is_none())
        .collect();
    let total: usize = result.records.iter().map(|r| r.follicle_count()).sum();
    let mean = if ok.is_empty() {
        0.0
    } else {
        total as f64 / ok.len() as f64
    };
    let densities: Vec<f64> = ok
        .iter()
        .filter_map(|r| r.analysis.as_ref())
        .map(|a| a.follicles_per_mm2)
        .collect();
    let density = if densities.is_empty() {
        "–".to_string()
    } else {
        format!(
            "{:.1}",
            densities.iter().sum::<f64>() / densities.len() as f64
        )
    };
    let areas: Vec<f64> = result
        .records
        .iter()
        .flat_map(|r| r.analysis.iter())
        .flat_map(|a| &a.follicles)
        .map(|f| f.area_um2)
        .collect();
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>follicount report</title>\n<style>\n\
         body{{font-family:sans-serif;margin:2em;color:#222}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}\
         td.l,th.l{{text-align:left}}tr.error td{{background:#fde2e2}}tr.warn td{{background:#fff4cc}}\
         dl.summary{{display:grid;grid-template-columns:max-content auto;gap:4px 16px}}\
         dt{{font-weight:bold}}img.thumb{{max-width:320px;height:auto;display:block}}\n\
         </style>\n</head>\n<body>\n<h1>follicount report</h1>\n\
         <p>follicount {} — started {}, finished {}, {:.2} s on {} thread(s).</p>\n",
        crate::VERSION,
        escape(&result.started),
        escape(&result.finished),
        result.elapsed_s,
        result.threads
    );
    let _ = write!(
        h,
        "<h2>Summary</h2>\n<dl class=\"summary\" id=\"summary\">\
         <dt>files</dt><dd id=\"n-files\">{}</dd><dt>fields</dt><dd id=\"n-fields\">{fields}</dd>\
         <dt>failed fields</dt><dd id=\"n-failed\">{}</dd><dt>follicles</dt><dd id=\"n-follicles\">{total}</dd>\
         <dt>mean follicles per field</dt><dd>{mean:.2}</dd><dt>mean density</dt><dd>{density} per mm²</dd></dl>\n",
        result.files.len(),
        failed.len()
    );
    h.push_str("<h2>Fields</h2>\n");
    let overlays = result
        .records
        .iter()
        .filter(|r| r.overlay.is_some())
        .count();
    if overlays > thumbnails.len() {
        let _ = writeln!(
            h,
            "<p>{} of {overlays} overlays are shown as thumbnails (a report carries at most {}); \
             the others are linked from <code>overlays/</code>.</p>",
            thumbnails.len(),
            super::MAX_THUMBNAILS
        );
    }
    h.push_str(
        "<table id=\"fields\">\n<thead><tr><th class=\"l\">file</th><th>field</th>\
         <th>size (px)</th><th>pixel (µm)</th><th class=\"l\">channels</th><th>follicles</th><th>per mm² of tissue</th>\
         <th class=\"l\">status</th><th>overlay</th></tr></thead>\n<tbody>\n",
    );
    for r in &result.records {
        let size = match (r.width, r.height, r.depth) {
            (Some(w), Some(hh), Some(d)) if d > 1 => format!("{w}×{hh}×{d}"),
            (Some(w), Some(hh), _) => format!("{w}×{hh}"),
            _ => "–".into(),
        };
        let dens = r
            .analysis
            .as_ref()
            .and_then(|a| a.follicles_per_tissue_mm2())
            .map_or("–".into(), |d| format!("{d:.1}"));
        let count = r
            .analysis
            .as_ref()
            .map_or("–".into(), |a| a.follicles.len().to_string());
        let overlay = r.overlay.as_deref().map_or(String::new(), |o| {
            let link = href(o);
            match thumbnails.get(o) {
                Some(uri) => format!(
                    "<a href=\"{link}\"><img class=\"thumb\" src=\"{uri}\" alt=\"overlay of {}\"></a>",
                    escape(&r.file)
                ),
                None => format!("<a href=\"{link}\">overlay</a>"),
            }
        });
        // Where the follicles are, over a large field.
        let overlay = match r.density_map.as_deref() {
            Some(d) => format!("{overlay}<br><a href=\"{}\">density map</a>", href(d)),
            None => overlay,
        };
        // The channel mapping; the default order (the file names no
        // channel) is worth a second look.
        let guessed = r.channel_source == Some(ChannelSource::DefaultOrder);
        let channels = r.channels.as_ref().map_or("–".into(), |c| {
            let from = match r.channel_source {
                Some(ChannelSource::CommandLine) => "--channels",
                Some(ChannelSource::Metadata) => "names",
                Some(ChannelSource::DefaultOrder) => "default order: no names",
                None => "",
            };
            format!("{} ({from})", escape(&c.to_string()))
        });
        let class = match (&r.error, guessed) {
            (Some(_), _) => "error",
            (None, true) => "ok warn",
            (None, false) => "ok",
        };
        let _ = writeln!(
            h,
            "<tr class=\"{class}\"><td class=\"l\">{}</td><td>{}</td><td>{size}</td><td>{}</td>\
             <td class=\"l\">{channels}</td><td>{count}</td><td>{dens}</td><td class=\"l\">{}</td>\
             <td>{overlay}</td></tr>",
            escape(&r.file),
            r.field,
            r.pixel_size_um
                .map_or("–".into(), |p| format!("{}", super::round(p, 6))),
            if r.error.is_some() { "error" } else { "ok" },
        );
    }
    h.push_str("</tbody>\n</table>\n<h2>Failures</h2>\n");
    if failed.is_empty() {
        h.push_str("<p id=\"no-failures\">None.</p>\n");
    } else {
        h.push_str("<ul id=\"failures\">\n");
        for r in &failed {
            let _ = writeln!(
                h,
                "<li><b>{}</b> (field {}): {}</li>",
                escape(&r.file),
                r.field,
                escape(r.error.as_deref().unwrap_or(""))
            );
        }
        h.push_str("</ul>\n");
    }
    let _ = write!(
        h,
        "<h2>Follicle areas (µm²)</h2>\n{}\n</body>\n</html>\n",
        histogram_svg(&areas, 20, "µm²")
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_histogram() {
        assert_eq!(escape("a<b & \"c\"'"), "a&lt;b &amp; &quot;c&quot;&#39;");
        let svg = histogram_svg(&[1.0, 2.0, 2.0, 10.0], 3, "µm²");
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("<title>1–4 µm²: 3</title>"), "{svg}");
        assert!(histogram_svg(&[], 5, "px²").contains("no follicles"));
    }
}
