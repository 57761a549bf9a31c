"""scream-dSprites (Locatello et al. 2019): the dSprites factors over a patch of Munch's *The Scream*.

disentanglement_lib thumbnails the painting to fit 350 × 274 (PIL's `Image.thumbnail`, aspect kept) and, for
each observation, takes a random 64 × 64 crop of it, adds a uniform random colour per channel and halves the
sum; where the sprite is, the pixel is inverted (1 − background). The painting is the user's local file; the
prepared dataset file keeps its thumbnail (uint8, `TEXTURE_KEY`) so later stages never read the original.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from vae.datasets.factored import not_found
from vae.errors import DatasetError

URL = "https://upload.wikimedia.org/wikipedia/commons/f/f4/The_Scream.jpg"  # the one disentanglement_lib links
DEFAULT = Path("data/scream/scream.jpg")  # disentanglement_lib's place, scream/scream.jpg, under data/
THUMBNAIL = (350, 274)  # (width, height) the image is shrunk to fit, as disentanglement_lib does
CROP = 64  # the side of each background patch: the dSprites image size
TEXTURE_KEY = "scream"


def read_texture(path: Path) -> np.ndarray:
    """The painting thumbnailed as disentanglement_lib does: uint8 (H, W, 3), H ≤ 274 and W ≤ 350."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise not_found(path, "scream_dsprites", "an image of Munch's The Scream (public domain)", URL)
    try:
        with Image.open(path) as image:
            image = image if image.mode == "RGB" else image.convert("RGB")
            image.thumbnail(THUMBNAIL)
            texture = np.asarray(image, dtype=np.uint8).copy()
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DatasetError(path, f"not an image PIL can read ({type(exc).__name__})") from None
    return checked(path, texture)


def checked(path: Path, texture: np.ndarray) -> np.ndarray:
    """`texture` if it is uint8 (H, W, 3) with room for a crop (H, W > 64: the start is drawn below H − 64)."""
    if texture.dtype != np.uint8 or texture.ndim != 3 or texture.shape[2] != 3:
        raise DatasetError(path, f"scream texture is {texture.dtype} {texture.shape}, expected uint8 (H, W, 3)")
    height, width = texture.shape[:2]
    if height <= CROP or width <= CROP:
        raise DatasetError(
            path, f"the image is {width}×{height} after thumbnailing; 64×64 crops need more than 64 pixels each way"
        )
    return texture


def load_texture(path: Path) -> np.ndarray:
    """The thumbnail a prepared scream-dSprites file holds beside its sprites."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if TEXTURE_KEY not in z.files:
                raise DatasetError(path, "no scream texture in this file; run `dvc repro -f prepare`")
            texture = z[TEXTURE_KEY]
    except FileNotFoundError:
        raise DatasetError(path, "file not found (run `dvc repro prepare`)") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DatasetError(path, f"damaged ({type(exc).__name__}); run `dvc repro -f prepare`") from None
    return checked(path, texture)
