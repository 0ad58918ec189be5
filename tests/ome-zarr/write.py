"""Writes TIFF fields as OME-Zarr images with ome-zarr-py (the OME's own
Python writer, independent of follicount's zarrs-based reader): each
input as NGFF 0.4 (Zarr v2, Blosc-LZ4 chunks) and NGFF 0.5 (Zarr v3,
Zstd chunks in shards), with the TIFF's pixel size, z step and channel
names. A multi-series OME-TIFF becomes a bioformats2raw layout (series
0/, 1/, ...).

    python write.py OUT_DIR TIFF...
"""
import os
import sys

import numcodecs
import numpy as np
import tifffile
import zarr
from ome_zarr.format import FormatV04, FormatV05
from ome_zarr.writer import write_image


def series_of(path):
    """Each series as (array in c[z]yx order, axes, pixel size um, z step um, names)."""
    out = []
    with tifffile.TiffFile(path) as t:
        ij = t.imagej_metadata or {}
        for s in t.series:
            a = s.asarray()
            axes = s.axes.replace("I", "C").replace("S", "C")
            if axes == "YXC":
                a, axes = np.moveaxis(a, -1, 0), "CYX"
            if axes == "ZCYX":
                a, axes = np.moveaxis(a, 0, 1), "CZYX"
            page = s.pages[0]
            px = None
            if "XResolution" in page.tags:
                num, den = page.tags["XResolution"].value
                # Pixels per unit: per cm (3) or inch (2), else per the
                # ImageJ unit (micron here).
                unit = {2: 25400.0, 3: 10000.0}.get(int(page.tags["ResolutionUnit"].value), 1.0)
                px = den / num * unit
            names = None
            if t.is_ome:
                import xml.etree.ElementTree as ET

                root = ET.fromstring(t.ome_metadata)
                ns = {"o": root.tag.split("}")[0].strip("{")}
                image = root.findall("o:Image", ns)[len(out)]
                pixels = image.find("o:Pixels", ns)
                px = float(pixels.get("PhysicalSizeX")) if pixels.get("PhysicalSizeX") else px
                names = [c.get("Name") for c in pixels.findall("o:Channel", ns)]
            elif ij.get("Labels"):
                names = list(ij["Labels"])[: a.shape[0]]
            out.append((a, axes.lower(), px, ij.get("spacing"), names))
    return out


def write(path, a, axes, px, dz, names, fmt, storage):
    root = zarr.open_group(path, mode="w", zarr_format=fmt.zarr_format)
    scale = {"y": px, "x": px}
    units = {"y": "micrometer", "x": "micrometer"}
    if "z" in axes:
        scale["z"] = dz or 1.0
        units["z"] = "micrometer"
    write_image(
        a,
        group=root,
        axes=list(axes),
        fmt=fmt,
        scale=scale,
        axes_units=units,
        scale_factors=(2,),
        storage_options=storage,
    )
    if names and all(names):
        omero = {"channels": [{"label": n} for n in names]}
        if fmt.zarr_format == 3:
            ome = dict(root.attrs["ome"])
            ome["omero"] = omero
            root.attrs["ome"] = ome
        else:
            root.attrs["omero"] = omero
    return root


def main():
    out = sys.argv[1]
    for tif in sys.argv[2:]:
        stem = os.path.basename(tif).split(".")[0]
        series = series_of(tif)
        for fmt, tag, storage in [
            (FormatV04(), "v04", {"chunks": None, "compressor": numcodecs.Blosc("lz4")}),
            (FormatV05(), "v05", {"chunks": None, "shards": None}),
        ]:
            path = os.path.join(out, f"{stem}.{tag}.ome.zarr")
            first = series[0][0]
            chunks = tuple([1] * (first.ndim - 2) + [64, 64])
            storage = dict(storage, chunks=chunks)
            if fmt.zarr_format == 3:
                storage["shards"] = tuple([1] * (first.ndim - 2) + [128, 128])
                storage.pop("compressor", None)
            if len(series) == 1:
                write(path, *series[0], fmt, storage)
            else:
                root = zarr.open_group(path, mode="w", zarr_format=fmt.zarr_format)
                root.attrs["bioformats2raw.layout"] = 3
                for k, s in enumerate(series):
                    write(os.path.join(path, str(k)), *s, fmt, storage)
            print(path)


main()
