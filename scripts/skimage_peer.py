#!/usr/bin/env python3
"""The scikit-image reference pipeline follicount is benchmarked against.

Same steps as follicount's default pipeline, written the way a lab would
with scikit-image: read with tifffile, z max-projection, Gaussian, flat-field
by the large-scale DAPI profile, white top-hat of P-cadherin and Sox9,
thresholds (Li for P-cadherin, Otsu otherwise), opening and hole filling,
labelling, distance-transform watershed of follicles and nuclei, Sox9+
nucleus counting and the follicle rule. Fields run in a process pool.

    python3 scripts/skimage_peer.py DIR --jobs N [--out OUT]

With --out, it reads each file's pixel size (ImageJ or OME metadata; µm
parameters are converted as follicount converts them) and channel names
(ImageJ labels, OME channel names; else P-cadherin, Sox9, DAPI in file
order, a 4th channel skipped), and writes OUT/fields.csv and
OUT/follicles.csv in follicount's format, so that `follicount score OUT
--truth T` scores it exactly as it scores follicount.
"""
import argparse
import glob
import os
import sys
import time
from multiprocessing import Pool

import numpy as np
import tifffile
from scipy import ndimage as ndi
from skimage import filters, measure, morphology, segmentation, feature


ROLES = {"pcad": 0, "p-cad": 0, "p-cadherin": 0, "pcadherin": 0,
         "sox9": 1, "dapi": 2, "hoechst": 2}


def role(name):
    return ROLES.get(name.strip().lower())


def load(path):
    """(P-cadherin, Sox9, DAPI) max-projected, and µm per pixel or None."""
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        data = series.asarray().astype(np.float32)
        axes = series.axes
        names, px = [], None
        if tif.is_ome:
            import xml.etree.ElementTree as ET
            root = ET.fromstring(tif.ome_metadata)
            for el in root.iter():
                tag = el.tag.split("}")[-1]
                if tag == "Pixels" and px is None and el.get("PhysicalSizeX"):
                    px = float(el.get("PhysicalSizeX"))
                if tag == "Channel" and el.get("Name"):
                    names.append(el.get("Name"))
        elif tif.is_imagej:
            ij = tif.imagej_metadata or {}
            labels = ij.get("Labels") or []
            c = ij.get("channels", 1)
            names = list(labels[:c]) if labels else []
            tags = tif.pages[0].tags
            if "XResolution" in tags and ij.get("unit") in ("um", "micron", "µm", "\\u00B5m"):
                n, d = tags["XResolution"].value
                px = d / n if n else None
        else:
            tags = tif.pages[0].tags
            if "XResolution" in tags and "ResolutionUnit" in tags and tags["ResolutionUnit"].value == 3:
                n, d = tags["XResolution"].value
                px = 1e4 * d / n if n else None
    if "Z" in axes:
        data = data.max(axis=axes.index("Z"))
        axes = axes.replace("Z", "")
    if axes.endswith("S"):  # RGB: samples last
        data = np.moveaxis(data, -1, 0)
    order = [role(n) for n in names] if len(names) >= 3 else [0, 1, 2] + [None] * (data.shape[0] - 3)
    chans = [None, None, None]
    for i, r in enumerate(order[: data.shape[0]]):
        if r is not None and chans[r] is None:
            chans[r] = data[i]
    if any(c is None for c in chans):
        chans = [data[0], data[1], data[2]]
    return chans, px


def split(mask, min_sep):
    dist = ndi.distance_transform_edt(mask)
    labels0 = measure.label(mask, connectivity=2)
    peaks = feature.peak_local_max(dist, min_distance=max(1, int(min_sep)), labels=labels0, exclude_border=False)
    markers = np.zeros(mask.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return segmentation.watershed(-dist, markers, mask=mask)


def analyse(path):
    (pcad, sox9, dapi), known = load(path)
    px = known or 1.0
    pcad = filters.gaussian(pcad, 2.0 / px, preserve_range=True)
    sox9 = filters.gaussian(sox9, 0.5 / px, preserve_range=True)
    dapi = filters.gaussian(dapi, 0.5 / px, preserve_range=True)
    profile = filters.gaussian(dapi, 50.0 / px, preserve_range=True)
    profile = np.maximum(profile / profile.max(), 0.2)
    pcad, sox9, dapi = pcad / profile, sox9 / profile, dapi / profile
    r = int(round(34.5 / px))
    footprint = np.ones((2 * r + 1, 2 * r + 1), dtype=bool)
    pcad = pcad - ndi.grey_opening(pcad, footprint=footprint)
    sox9 = sox9 - ndi.grey_opening(sox9, footprint=footprint)
    pmask = pcad >= filters.threshold_li(pcad)
    pmask = ndi.binary_fill_holes(ndi.binary_opening(pmask, structure=morphology.disk(1)))
    follicles = split(pmask, 12.0 / px)
    t_sox9 = filters.threshold_otsu(sox9)
    dmask = dapi >= filters.threshold_otsu(dapi)
    nuclei = split(dmask, 4.0 / px)
    area = px * px  # µm² per pixel
    sox9_pos = np.zeros(follicles.max() + 1, dtype=np.int64)
    for n in measure.regionprops(nuclei, intensity_image=sox9):
        if n.area * area >= 8 and n.intensity_mean >= t_sox9:
            y, x = (int(round(c)) for c in n.centroid)
            host = follicles[y, x]
            if host:
                sox9_pos[host] += 1
    found = []
    for f in measure.regionprops(follicles):
        if 400 <= f.area * area <= 15000 and sox9_pos[f.label] >= 3:
            found.append((f.centroid[1], f.centroid[0], f.area))
    return path, known, found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--out", help="write fields.csv and follicles.csv here")
    a = ap.parse_args()
    files = sorted(glob.glob(os.path.join(a.dir, "**", "*.tif"), recursive=True))
    t = time.perf_counter()
    with Pool(a.jobs) as pool:
        results = pool.map(analyse, files)
    dt = time.perf_counter() - t
    total = sum(len(found) for _, _, found in results)
    print(f"skimage: {len(files)} fields, {total} follicles, {dt:.2f} s")
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "fields.csv"), "w") as fc, \
                open(os.path.join(a.out, "follicles.csv"), "w") as dc:
            fc.write("file,field,pixel_size_um,follicles,status\n")
            dc.write("file,field,id,x,y,area_px\n")
            for path, px, found in results:
                name = os.path.relpath(path, a.dir)
                fc.write(f"{name},0,{'' if px is None else px},{len(found)},ok\n")
                for i, (x, y, n) in enumerate(found, 1):
                    dc.write(f"{name},0,{i},{x:.2f},{y:.2f},{n}\n")


if __name__ == "__main__":
    sys.exit(main())
