"""Regenerate the playground's sample photos (``static/samples/*.jpg``). A developer tool, not run at start.

Needs Pillow (not a project dependency; the generated JPEGs are committed)::

    python -m venv /tmp/pil && /tmp/pil/bin/pip install pillow
    /tmp/pil/bin/python bot/playground/make_samples.py

The scenes are drawn procedurally (deterministic seed), so no third-party images are involved.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

SIZE = (640, 480)
OUT = Path(__file__).resolve().parent / "static" / "samples"


def _noise(draw: Any, box: tuple[int, int, int, int], base: tuple[int, int, int], spread: int, count: int,
           rng: random.Random, size: int = 2) -> None:
    x0, y0, x1, y1 = box
    for _ in range(count):
        x, y = rng.randint(x0, x1), rng.randint(y0, y1)
        d = rng.randint(-spread, spread)
        color = tuple(max(0, min(255, c + d)) for c in base)
        draw.rectangle([x, y, x + rng.randint(1, size), y + rng.randint(1, size)], fill=color)


def _sky(draw: Any, top: tuple[int, int, int], bottom: tuple[int, int, int], height: int) -> None:
    for y in range(height):
        t = y / max(1, height - 1)
        draw.line([(0, y), (SIZE[0], y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))


def _trees(draw: Any, rng: random.Random, horizon: int, dark: bool = False) -> None:
    for x in range(-20, SIZE[0] + 20, 38):
        r = rng.randint(22, 40)
        g = (30, 60, 35) if dark else (48 + rng.randint(0, 30), 110 + rng.randint(0, 40), 52)
        draw.ellipse([x - r, horizon - 2 * r, x + r, horizon + 6], fill=g)


def pothole(rng: random.Random) -> Any:
    from PIL import Image, ImageDraw, ImageFilter

    img = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(img)
    horizon = 170
    _sky(draw, (120, 170, 225), (205, 225, 240), horizon)
    draw.rectangle([0, horizon - 10, SIZE[0], SIZE[1]], fill=(122, 140, 84))  # grass verge
    _noise(draw, (0, horizon, SIZE[0], SIZE[1]), (122, 140, 84), 25, 5000, rng)
    _trees(draw, rng, horizon)
    draw.polygon([(0, SIZE[1]), (SIZE[0], SIZE[1]), (380, horizon), (260, horizon)], fill=(150, 132, 96))
    draw.polygon([(40, SIZE[1]), (600, SIZE[1]), (372, horizon), (268, horizon)], fill=(92, 92, 96))
    for _ in range(9000):  # asphalt grain, only on the road
        y = rng.randint(horizon, SIZE[1] - 1)
        t = (y - horizon) / (SIZE[1] - horizon)
        left, right = 268 - (268 - 40) * t, 372 + (600 - 372) * t
        x = rng.randint(int(left), int(right))
        d = rng.randint(-25, 25)
        draw.point((x, y), fill=(92 + d, 92 + d, 96 + d))
    for y in range(horizon + 20, SIZE[1], 60):  # dashed centre line
        w = 2 + (y - horizon) // 30
        draw.polygon([(318 - w, y), (322 + w, y), (324 + w, y + 25), (316 - w, y + 25)], fill=(235, 225, 170))
    for cx, cy, rx, ry in ((250, 370, 110, 45), (420, 300, 60, 22), (330, 250, 32, 11)):
        draw.ellipse([cx - rx - 6, cy - ry - 4, cx + rx + 6, cy + ry + 4], fill=(70, 68, 66))
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=(58, 52, 44))
        draw.ellipse([cx - rx + 14, cy - ry + 8, cx + rx - 10, cy + ry - 4], fill=(88, 104, 118))  # puddle
        _noise(draw, (cx - rx, cy - ry, cx + rx, cy + ry), (60, 55, 48), 18, 500, rng, 3)
    return img.filter(ImageFilter.GaussianBlur(0.6))


def garbage(rng: random.Random) -> Any:
    from PIL import Image, ImageDraw, ImageFilter

    img = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(img)
    _sky(draw, (150, 185, 220), (215, 225, 235), 200)
    draw.rectangle([0, 60, SIZE[0], 260], fill=(186, 170, 150))  # wall
    for x in range(0, SIZE[0], 64):
        draw.line([(x, 60), (x, 260)], fill=(160, 146, 128), width=2)
    draw.rectangle([0, 250, SIZE[0], SIZE[1]], fill=(120, 112, 100))
    _noise(draw, (0, 250, SIZE[0], SIZE[1]), (120, 112, 100), 20, 6000, rng)
    colors = [(40, 40, 40), (230, 230, 225), (200, 60, 50), (50, 90, 170), (60, 140, 80), (230, 190, 60),
              (25, 25, 30), (180, 180, 190)]
    for _ in range(260):
        x = int(rng.gauss(320, 120))
        y = int(rng.gauss(330, 45))
        r = rng.randint(10, 34)
        draw.ellipse([x - r, y - int(r * 0.8), x + r, y + int(r * 0.8)], fill=rng.choice(colors),
                     outline=(20, 20, 20))
    for _ in range(30):  # bottles and boxes
        x, y = rng.randint(120, 520), rng.randint(300, 420)
        draw.rectangle([x, y, x + rng.randint(10, 40), y + rng.randint(6, 20)], fill=rng.choice(colors))
    return img.filter(ImageFilter.GaussianBlur(0.7))


def street_light(rng: random.Random) -> Any:
    from PIL import Image, ImageDraw, ImageFilter

    img = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(img)
    horizon = 300
    _sky(draw, (12, 18, 40), (40, 45, 70), horizon)
    for _ in range(60):
        x, y = rng.randint(0, SIZE[0]), rng.randint(0, 200)
        draw.point((x, y), fill=(200, 200, 220))
    _trees(draw, rng, horizon, dark=True)
    draw.rectangle([0, horizon, SIZE[0], SIZE[1]], fill=(30, 30, 36))
    _noise(draw, (0, horizon, SIZE[0], SIZE[1]), (30, 30, 36), 10, 4000, rng)
    for x, lit in ((120, True), (330, False), (540, True)):
        draw.rectangle([x - 4, 110, x + 4, horizon + 20], fill=(70, 72, 78))
        draw.line([(x, 112), (x + 50, 100)], fill=(70, 72, 78), width=5)
        lamp = (255, 236, 170) if lit else (60, 60, 64)
        draw.ellipse([x + 38, 96, x + 66, 110], fill=lamp)
        if lit:
            draw.polygon([(x + 40, 108), (x + 64, 108), (x + 120, horizon + 60), (x - 20, horizon + 60)],
                         fill=(70, 66, 52))
    draw.text((318, 70), "?", fill=(90, 90, 90))
    return img.filter(ImageFilter.GaussianBlur(0.8))


def blocked_drain(rng: random.Random) -> Any:
    from PIL import Image, ImageDraw, ImageFilter

    img = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(img)
    _sky(draw, (140, 150, 165), (190, 195, 205), 150)  # overcast
    _trees(draw, rng, 150)
    draw.rectangle([0, 150, SIZE[0], SIZE[1]], fill=(104, 110, 112))
    draw.polygon([(0, 260), (SIZE[0], 230), (SIZE[0], 330), (0, 380)], fill=(150, 150, 146))  # concrete edge
    draw.polygon([(0, 300), (SIZE[0], 262), (SIZE[0], 310), (0, 360)], fill=(96, 84, 52))  # muddy water
    _noise(draw, (0, 260, SIZE[0], 360), (96, 84, 52), 22, 5000, rng)
    for _ in range(90):  # floating rubbish
        x, y = rng.randint(0, SIZE[0]), rng.randint(280, 345)
        r = rng.randint(4, 12)
        draw.ellipse([x - r, y - r // 2, x + r, y + r // 2],
                     fill=rng.choice([(220, 220, 215), (200, 60, 50), (40, 40, 40), (60, 120, 190)]))
    draw.rectangle([0, 380, SIZE[0], SIZE[1]], fill=(86, 100, 108))  # flooded road
    _noise(draw, (0, 380, SIZE[0], SIZE[1]), (86, 100, 108), 14, 4000, rng, 4)
    return img.filter(ImageFilter.GaussianBlur(0.7))


SCENES = {"jalan-berlubang": pothole, "sampah-menumpuk": garbage, "lampu-mati": street_light,
          "drainase-banjir": blocked_drain}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for key, scene in SCENES.items():
        image = scene(random.Random(key))
        path = OUT / f"{key}.jpg"
        image.save(path, "JPEG", quality=72, optimize=True, progressive=False)
        print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
