#!/usr/bin/env python3
"""The screenshots in docs/screenshots/: a store report of tests/report/seed.py's day (a private database on the
local PostgreSQL, `footfall_docs`, made afresh) with a camera picture under its heatmap, and a geometry page of
the demo store's channel_1, both taken in headless Chromium. People in the pictures are pixelated by
`footfall draw` (Triton at FOOTFALL_TRITON_URL, default 127.0.0.1:8001; without it the frames are blurred).

    .venv/bin/python hack/docs_screenshots.py [--dsn postgresql://postgres@127.0.0.1:5432/postgres]
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg2
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from footfall_worker.storage.migrations import migrate  # noqa: E402
from tests.report import seed  # noqa: E402

FOOTFALL = Path(sys.executable).with_name("footfall")
FOOTAGE = Path("input") / "footage" / "intel"  # relative: the pages name the clip as the repo does
OUT = REPO / "docs" / "screenshots"
WIDTH = 1280


def run(*args: str) -> None:
    subprocess.run([str(FOOTFALL), *args], check=True, cwd=REPO)


def fresh_database(admin_dsn: str) -> str:
    conn = psycopg2.connect(admin_dsn, connect_timeout=5)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS footfall_docs")
        cur.execute("CREATE DATABASE footfall_docs")
    conn.close()
    dsn = admin_dsn.rsplit("/", 1)[0] + "/footfall_docs"
    migrate(dsn)
    conn = psycopg2.connect(dsn, connect_timeout=5)
    seed.insert_day(conn)
    conn.close()
    return dsn


def screenshot(page: Path, png: Path, height: int) -> Image.Image:
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("chromium is not installed: hack/install-chromium.sh")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={profile}",
             f"--window-size={WIDTH},{height}", f"--screenshot={png}", page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    return Image.open(png)


PARTS = ("report-summary.png", "report-occupancy-heatmap.png", "report-dwell-gender.png")
RULE = (0x00, 0x72, 0xB2)  # the 2 px line under each section heading (html.py's CSS)
HEADING_PX = 45  # from a heading's top to its rule


def section_rules(page: Image.Image) -> tuple[list[int], int]:
    """The rows of the section headings' rules, and the row below the page's last content."""
    pixels = page.load()
    rules, end = [], 0
    for y in range(page.height):
        row = [pixels[x, y] for x in range(0, WIDTH, 8)]
        if sum(1 for p in row if p == RULE) > 0.6 * len(row) and (not rules or y - rules[-1] > 4):
            rules.append(y)
        if any(p != (255, 255, 255) for p in row):
            end = y
    return rules, min(page.height, end + 24)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        work_dir = Path(work)
        demo = "config/demo_store.json"
        run("draw", "--cameras", demo, "--channel", "channel_1", "--out", str(work_dir / "geometry"),
            "--source", str(FOOTAGE / "one-by-one-person-detection.mp4"), "--skip", "350")  # fmt: skip
        # the heatmap's background: the checkout camera's view (the seed's channel_3)
        run("draw", "--cameras", demo, "--channel", "channel_3", "--out", str(work_dir / "pictures" / "channel_3"),
            "--source", str(FOOTAGE / "face-demographics-walking.mp4"), "--skip", "60")  # fmt: skip
        dsn = fresh_database(args.dsn)
        report = work_dir / "report"
        run("report", "--dsn", dsn, "--store", seed.STORE, "--from", seed.DAY.isoformat(), "--to",
            seed.DAY.isoformat(), "--out", str(report), "--pictures", str(work_dir / "pictures"))  # fmt: skip
        page = screenshot(report / "report.html", work_dir / "report.png", 9000).convert("RGB")
        # cut between sections: above the 3rd and the 6th heading rule, and below the last content
        rules, end = section_rules(page)
        cuts = [0, rules[2] - HEADING_PX, rules[5] - HEADING_PX, end]
        for name, top, bottom in zip(PARTS, cuts, cuts[1:], strict=False):
            page.crop((0, top, WIDTH, bottom)).save(OUT / name, optimize=True)
        screenshot(work_dir / "geometry" / "geometry.html", OUT / "geometry.png", 1000)
    print(f"wrote {', '.join(sorted(p.name for p in OUT.glob('*.png')))} in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
