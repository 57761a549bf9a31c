"""Write tests/data/dsprites_reference.tsv from DeepMind's dsprites.gif and its frames' latent classes.

    python tests/data/make_dsprites_reference.py dsprites.gif frames.tsv > tests/data/dsprites_reference.tsv

`dsprites.gif` is the animation in DeepMind's dsprites-dataset repository (320 frames of 64 x 64, only 0 and
255, cut from the real dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz; Apache License 2.0, Copyright 2017
DeepMind Technologies Limited). `frames.tsv` has a header and one row per frame: frame, color, shape, scale,
orientation, posX, posY (classes, posX along columns, posY along rows) and a segment name; the classes were
read off the frames (shape from image moments; scale, orientation and position from the sweeps the
animation runs through). Needs Pillow (matplotlib brings it).
"""

from __future__ import annotations

import sys

import numpy as np
from PIL import Image, ImageSequence

HEADER = """\
# DeepMind's own dSprites frames: the 320 frames of dsprites.gif in DeepMind's dsprites-dataset repository,
# cut from their dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz.
# Copyright 2017 DeepMind Technologies Limited. Licensed under the Apache License, Version 2.0
# (http://www.apache.org/licenses/LICENSE-2.0); this file is a derived copy of those pixels, in another format.
# Written by tests/data/make_dsprites_reference.py (see there how to regenerate it).
# Columns: frame, its latent classes (color, shape 0 square / 1 ellipse / 2 heart, scale 0-5,
# orientation 0-39, posX 0-31 along columns, posY 0-31 along rows), and mask: the 64 x 64 frame as
# np.packbits of its row-major on pixels (grey > 127), in hex.
"""


def main(gif: str, frames_tsv: str) -> None:
    frames = np.stack([np.asarray(f.convert("L")) for f in ImageSequence.Iterator(Image.open(gif))]) > 127
    classes = np.loadtxt(frames_tsv, skiprows=1, usecols=range(1, 7), dtype=int, delimiter="\t", ndmin=2)
    if frames.shape != (len(classes), 64, 64):
        raise SystemExit(f"{gif} has frames {frames.shape}, {frames_tsv} has {len(classes)} rows")
    out = [HEADER + "frame\tcolor\tshape\tscale\torientation\tposX\tposY\tmask"]
    for i, (frame, row) in enumerate(zip(frames, classes)):
        out.append("\t".join([str(i), *map(str, row), np.packbits(frame.reshape(-1)).tobytes().hex()]))
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
