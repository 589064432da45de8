"""Draws dots.png, the texture nca ships: coloured dots on a cream ground, 128x128, tileable.

Run with numpy and Pillow: python3 make_dots.py (writes dots.png beside this file).
"""
import pathlib

import numpy as np
from PIL import Image

SIDE, SPACING, RADIUS = 128, 16, 5.0
GROUND = np.array([0.96, 0.91, 0.80])
COLOURS = np.array([[0.85, 0.25, 0.20], [0.10, 0.55, 0.55], [0.15, 0.20, 0.50]])

rng = np.random.default_rng(7)
y, x = np.mgrid[0:SIDE, 0:SIDE] + 0.5
image = np.tile(GROUND, (SIDE, SIDE, 1))
for row in range(SIDE // SPACING):
    for column in range(SIDE // SPACING):
        # A hexagonal lattice with some jitter; every distance wraps, so the picture tiles.
        cy = (row + 0.5) * SPACING + rng.uniform(-2, 2)
        cx = (column + 0.25 + 0.5 * (row % 2)) * SPACING + rng.uniform(-2, 2)
        dy = (y - cy + SIDE / 2) % SIDE - SIDE / 2
        dx = (x - cx + SIDE / 2) % SIDE - SIDE / 2
        cover = np.clip(RADIUS + 0.5 - np.hypot(dy, dx), 0.0, 1.0)[..., None]
        image = image * (1 - cover) + COLOURS[rng.integers(len(COLOURS))] * cover
out = pathlib.Path(__file__).with_name("dots.png")
Image.fromarray((image * 255 + 0.5).astype(np.uint8), "RGB").save(out, optimize=True)
