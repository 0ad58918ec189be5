#!/usr/bin/env python3
"""The scipy / scikit-image 3D pipeline follicount's 3D analysis is
benchmarked against (issue 19).

The same recipe as follicount's 3D mode, written the way an analyst would
with scipy.ndimage and scikit-image: read the stack with tifffile (voxel
size from ImageJ `spacing=` or OME `PhysicalSizeZ`), anisotropic Gaussian,
per-slice depth gain from DAPI percentiles, per-slice white top-hat,
Triangle / Otsu thresholds over the volume and a local maximum filter,
opening, hole filling per slice, `ndimage.label`, anisotropic
`distance_transform_edt`, `peak_local_max` + `skimage.segmentation.
watershed` for follicles and nuclei, mean Sox9 per nucleus, and the rule on
the footprint area. Stacks run in a process pool.

    python3 scripts/peer3d.py DIR --jobs N [--out OUT]

With --out it writes OUT/fields.csv and OUT/follicles.csv (with z in µm)
in follicount's format, so `follicount score OUT --truth T` scores it.
"""
import argparse
import glob
import os
import re
import time
from multiprocessing import Pool

import numpy as np
import tifffile
from scipy import ndimage as ndi
from skimage import feature, filters, measure, segmentation

ROLES = {"pcad": 0, "p-cad": 0, "p-cadherin": 0, "sox9": 1, "dapi": 2}


def load(path):
    """(P-cadherin, Sox9, DAPI) as Z×Y×X float32, µm per pixel, z step."""
    with tifffile.TiffFile(path) as tif:
        s = tif.series[0]
        data = s.asarray().astype(np.float32)
        axes = s.axes
        names, px, dz = [], None, None
        if tif.is_ome:
            d = tif.ome_metadata
            px = float(re.search(r'PhysicalSizeX="([0-9.eE+-]+)"', d).group(1))
            dz = float(re.search(r'PhysicalSizeZ="([0-9.eE+-]+)"', d).group(1))
            names = re.findall(r'<Channel [^>]*Name="([^"]+)"', d)
        else:
            ij = tif.imagej_metadata or {}
            n, den = tif.pages[0].tags["XResolution"].value
            px = den / n
            dz = float(ij.get("spacing"))
            names = list((ij.get("Labels") or [])[: ij.get("channels", 3)])
    data = np.moveaxis(data, axes.index("C"), 0)  # C, Z, Y, X
    order = [ROLES.get(n.strip().lower()) for n in names] if len(names) >= 3 else [0, 1, 2]
    chans = [None] * 3
    for i, r in enumerate(order):
        if r is not None:
            chans[r] = data[i]
    return chans, px, dz


def split(mask, sampling, min_sep_um):
    dist = ndi.distance_transform_edt(mask, sampling=sampling)
    lab0, _ = ndi.label(mask, structure=np.ones((3, 3, 3)))
    md = max(1, int(round(min_sep_um / max(sampling))))
    peaks = feature.peak_local_max(dist, min_distance=md, labels=lab0, exclude_border=False)
    markers = np.zeros(mask.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return segmentation.watershed(-dist, markers, mask=mask)


def analyse(path):
    (pcad, sox9, dapi), px, dz = load(path)
    sampling = (dz, px, px)
    sig = lambda um: (um / dz, um / px, um / px)
    dapi = ndi.gaussian_filter(dapi, sig(0.5))
    lo = np.percentile(dapi[:, ::7, ::7], 5, axis=(1, 2))
    hi = np.percentile(dapi[:, ::7, ::7], 95, axis=(1, 2))
    level = ndi.median_filter(hi - lo, size=3, mode="nearest")
    gain = np.clip(level.max() / np.maximum(level, 1e-9), 1.0, 4.0)[:, None, None]
    dapi = (dapi - lo[:, None, None]) * gain
    r = int(round(34.5 / px))

    def corrected(ch, sigma_um):
        ch = ndi.gaussian_filter(ch, sig(sigma_um))
        ch = ch - ndi.grey_opening(ch, size=(1, 2 * r + 1, 2 * r + 1))
        return ch * gain

    pcad = corrected(pcad, 2.0)
    t = filters.threshold_triangle(pcad)
    rl = (int(round(8 / dz)) * 2 + 1, int(round(8 / px)) * 2 + 1, int(round(8 / px)) * 2 + 1)
    pmask = (pcad >= t) & (pcad >= 0.3 * ndi.maximum_filter(pcad, size=rl))
    k = int(round(1.0 / px))
    disc = np.zeros((1, 2 * k + 1, 2 * k + 1), bool)
    yy, xx = np.mgrid[-k : k + 1, -k : k + 1]
    disc[0] = xx * xx + yy * yy <= k * k
    pmask = ndi.binary_opening(pmask, structure=disc)
    pmask = np.stack([ndi.binary_fill_holes(s) for s in pmask])
    follicles = split(pmask, sampling, 12.0)
    sox9 = corrected(sox9, 0.5)
    dmask = dapi >= filters.threshold_otsu(dapi)
    t_sox9 = filters.threshold_otsu(sox9[dmask])
    nuclei = split(dmask, sampling, 4.0)
    vmin = 4 / 3 * np.pi * (8 / np.pi) ** 1.5
    counts = np.zeros(follicles.max() + 1, dtype=np.int64)
    for n in measure.regionprops(nuclei, intensity_image=sox9):
        if n.area * px * px * dz >= vmin and n.intensity_mean >= t_sox9:
            z, y, x = (int(round(c)) for c in n.centroid)
            counts[follicles[z, y, x]] += 1
    found = []
    for f in measure.regionprops(follicles):
        z0, y0, x0, z1, y1, x1 = f.bbox
        footprint = f.image.any(axis=0).sum() * px * px
        if 400 <= footprint <= 15000 and counts[f.label] >= 3:
            found.append((f.centroid[2], f.centroid[1], f.centroid[0] * dz))
    return path, px, found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--out")
    a = ap.parse_args()
    files = sorted(glob.glob(os.path.join(a.dir, "*.tif")))
    t = time.perf_counter()
    with Pool(a.jobs) as pool:
        results = pool.map(analyse, files)
    dt = time.perf_counter() - t
    print(f"peer3d: {len(files)} stacks, {sum(len(f) for _, _, f in results)} follicles, {dt:.2f} s")
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "fields.csv"), "w") as fo, open(
            os.path.join(a.out, "follicles.csv"), "w"
        ) as fl:
            fo.write("file,field,pixel_size_um,follicles,status\n")
            fl.write("file,field,id,x,y,z\n")
            for path, px, found in results:
                name = os.path.basename(path)
                fo.write(f"{name},0,{px},{len(found)},ok\n")
                for i, (x, y, z) in enumerate(found, 1):
                    fl.write(f"{name},0,{i},{x:.2f},{y:.2f},{z:.2f}\n")


if __name__ == "__main__":
    main()
