"""The load benchmarks' photo: a smooth synthetic 640x480 photo-like image (gradients +
noise), JPEG quality 90, the same bytes every time.  Usage: make_photo.py OUT.jpg"""

import sys

import numpy as np
from PIL import Image

rng = np.random.default_rng(0)
y, x = np.mgrid[0:480, 0:640]
img = np.stack([(x * 0.4) % 256, (y * 0.5) % 256, ((x + y) * 0.2) % 256], -1)
img = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
Image.fromarray(img).save(sys.argv[1], quality=90)
