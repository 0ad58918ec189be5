//! Writes a plane as an OME-Zarr image, NGFF 0.5 on Zarr v3 (OME-NGFF
//! specification 0.5, 2024), as recent stitching and conversion tools
//! save one: one array of axes c, y, x (16-bit), Zstd-compressed chunks
//! (optionally sharded), reduced levels (2×, 4×, …) as further datasets,
//! channel names in `omero`, the pixel size as each dataset's `scale` in
//! micrometres. Written with the `zarrs` crate, which the reader uses too:
//! tests against an independent writer (ome-zarr-py) are in
//! `tests/ome-zarr/`.

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use zarrs::array::codec::ZstdCodec;
use zarrs::array::{data_type, ArrayBuilder};
use zarrs::filesystem::FilesystemStore;
use zarrs::group::GroupBuilder;

/// How to write the image.
#[derive(Clone, Debug)]
pub struct ZarrOptions {
    /// Chunk side in y and x, px (one channel per chunk).
    pub chunk: usize,
    /// Chunks per shard side (0 or 1: no sharding).
    pub shard: usize,
    /// Reduced resolutions after the full one (0: none).
    pub levels: usize,
    /// µm per pixel.
    pub pixel_size_um: f64,
    /// Channel names, in order.
    pub names: Vec<String>,
}

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Writes `planes` (each `w` × `h`, row-major, one per channel) as the
/// OME-Zarr image folder `path` (which must not exist yet).
pub fn ome_zarr(
    path: &Path,
    planes: &[&[u16]],
    (w, h): (usize, usize),
    o: &ZarrOptions,
) -> Res<()> {
    std::fs::create_dir_all(path)?;
    let store = Arc::new(FilesystemStore::new(path)?);
    let mut level: Vec<Vec<u16>> = planes.iter().map(|p| p.to_vec()).collect();
    let (mut lw, mut lh) = (w, h);
    let mut datasets = Vec::new();
    for k in 0..=o.levels {
        let c = planes.len() as u64;
        let side = o.chunk.max(1) as u64;
        let (outer, inner) = if o.shard > 1 {
            (side * o.shard as u64, Some(vec![1, side, side]))
        } else {
            (side, None)
        };
        let array = ArrayBuilder::new(
            vec![c, lh as u64, lw as u64],
            vec![1, outer, outer],
            data_type::uint16(),
            0u16,
        )
        .bytes_to_bytes_codecs(vec![Arc::new(ZstdCodec::new(3, false))])
        .subchunk_shape(inner)
        .dimension_names(["c", "y", "x"].into())
        .build(store.clone(), &format!("/{k}"))?;
        array.store_metadata()?;
        for (ch, plane) in level.iter().enumerate() {
            let ch = ch as u64;
            array
                .store_array_subset(&[ch..ch + 1, 0..lh as u64, 0..lw as u64], plane.as_slice())?;
        }
        let f = (1u64 << k) as f64;
        datasets.push(json!({
            "path": k.to_string(),
            "coordinateTransformations": [
                {"type": "scale", "scale": [1.0, o.pixel_size_um * f, o.pixel_size_um * f]}
            ]
        }));
        // The next level: means of 2 × 2 pixels.
        let (nw, nh) = (lw.div_ceil(2), lh.div_ceil(2));
        level = level
            .iter()
            .map(|p| {
                let mut out = vec![0u16; nw * nh];
                for y in 0..nh {
                    for x in 0..nw {
                        let (mut s, mut n) = (0u32, 0u32);
                        for (yy, xx) in [
                            (2 * y, 2 * x),
                            (2 * y, 2 * x + 1),
                            (2 * y + 1, 2 * x),
                            (2 * y + 1, 2 * x + 1),
                        ] {
                            if yy < lh && xx < lw {
                                s += u32::from(p[yy * lw + xx]);
                                n += 1;
                            }
                        }
                        out[y * nw + x] = (s / n.max(1)) as u16;
                    }
                }
                out
            })
            .collect();
        (lw, lh) = (nw, nh);
    }
    let channels: Vec<_> = o.names.iter().map(|n| json!({"label": n})).collect();
    let mut group = GroupBuilder::new().build(store, "/")?;
    group.attributes_mut().insert(
        "ome".into(),
        json!({
            "version": "0.5",
            "multiscales": [{
                "name": "mosaic",
                "axes": [
                    {"name": "c", "type": "channel"},
                    {"name": "y", "type": "space", "unit": "micrometer"},
                    {"name": "x", "type": "space", "unit": "micrometer"}
                ],
                "datasets": datasets
            }],
            "omero": {"channels": channels}
        }),
    );
    group.store_metadata()?;
    Ok(())
}
