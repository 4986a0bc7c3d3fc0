"""report.html in a real browser: Debian's headless Chromium (hack/install-chromium.sh; `make test` runs it).

The screenshot must show a rendered page (many colours, the plots' own colours, unknown's grey included), and the
DOM Chromium builds must hold the four plot sections with their titles and SVG images, and nothing fetched from
anywhere. Pillow (a dependency of matplotlib) reads the PNG.
"""

import base64
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from footfall_worker.report.plot_style import GENDER_COLOURS
from tests.report import seed
from tests.report.conftest import Report, footfall_report

TITLES = {
    "hourly-footfall": "Hourly footfall per entrance",
    "occupancy": "Occupancy over the day",
    "store-occupancy": "People in the store",
    "heatmap": "Where people stand",
    "dwell": "Dwell time per zone",
    "gender-split": "Gender split of entries",
}
WIDTH, HEIGHT = 1280, 2400
PAGE_HEIGHT = 9000  # the whole day's page (its hourly table and every plot) fits


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: run hack/install-chromium.sh (make test does)")
    command = [chromium, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars"]
    command += ["--no-first-run", f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _screenshot(report: Report, tmp_path: Path, height: int = HEIGHT) -> Image.Image:
    shot = tmp_path / "shot.png"
    done = _chromium(
        tmp_path / "profile",
        f"--screenshot={shot}",
        f"--window-size={WIDTH},{height}",
        (report.out / "report.html").as_uri(),
    )
    assert done.returncode == 0 and shot.is_file(), done.stderr[-3000:]
    return Image.open(shot).convert("RGB")


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))


@dataclass
class _Section:
    id: str
    heading: str = ""
    images: list[dict[str, str]] = field(default_factory=list)
    no_data: str = ""


class _Dom(HTMLParser):
    """The plot sections of a dumped DOM, plus every URL-bearing attribute and every script/link element."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[_Section] = []
        self.urls: list[str] = []
        self.forbidden: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.urls += [v for k, v in attributes.items() if k in ("src", "href")]
        if tag in ("script", "link", "iframe", "object"):
            self.forbidden.append(tag)
        if tag == "section" and "plot-section" in attributes.get("class", ""):
            self.sections.append(_Section(attributes["id"]))
        elif self.sections and tag == "img":
            self.sections[-1].images.append(attributes)
        elif tag in ("h2", "p"):
            self._in = tag if tag == "h2" or attributes.get("class") == "no-data" else None

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h2", "p"):
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in and self.sections:
            if self._in == "h2":
                self.sections[-1].heading += data
            else:
                self.sections[-1].no_data += data


def _dom(report: Report, tmp_path: Path) -> _Dom:
    done = _chromium(tmp_path / "profile", "--dump-dom", (report.out / "report.html").as_uri())
    assert done.returncode == 0 and "<body" in done.stdout, done.stderr[-3000:]
    dom = _Dom()
    dom.feed(done.stdout)
    return dom


def test_screenshot_shows_a_rendered_report(day_report: Report, tmp_path: Path) -> None:
    image = _screenshot(day_report, tmp_path)
    assert image.size == (WIDTH, HEIGHT)
    colours = {rgb: n for n, rgb in image.getcolors(maxcolors=WIDTH * HEIGHT)}
    assert len(colours) > 300, f"only {len(colours)} colours: blank or unstyled"
    assert colours.get((255, 255, 255), 0) < 0.9 * WIDTH * HEIGHT
    # Solid bar fills of both entrance cameras in the hourly plot (top of the page).
    for channel_colour in ("#0072B2", "#E69F00"):
        assert colours.get(_rgb(channel_colour), 0) > 2000, channel_colour


def test_whole_page_shows_every_gender_including_unknown(day_report: Report, tmp_path: Path) -> None:
    image = _screenshot(day_report, tmp_path, height=PAGE_HEIGHT)
    colours = {rgb: n for n, rgb in image.getcolors(maxcolors=WIDTH * PAGE_HEIGHT)}
    for gender, colour in GENDER_COLOURS.items():
        assert colours.get(_rgb(colour), 0) > 5000, f"{gender} ({colour}) not drawn"
    # The page ends inside the window: its last rows are background.
    assert {image.getpixel((x, PAGE_HEIGHT - 1)) for x in range(0, WIDTH, 16)} == {(255, 255, 255)}


def test_dom_has_the_plot_sections_with_titles_and_images(day_report: Report, tmp_path: Path) -> None:
    dom = _dom(day_report, tmp_path)
    assert {s.id: s.heading for s in dom.sections} == TITLES
    for section in dom.sections:
        assert len(section.images) == 1 and not section.no_data, section.id
        image = section.images[0]
        assert image["alt"] == TITLES[section.id]
        prefix = "data:image/svg+xml;base64,"
        assert image["src"].startswith(prefix)
        root = ET.fromstring(base64.b64decode(image["src"][len(prefix) :]))
        assert root.tag == "{http://www.w3.org/2000/svg}svg" and len(root) > 0
    # Self-contained: images are data URIs, links are the CSVs beside the page; no script, no stylesheet link.
    assert dom.forbidden == []
    assert all(u.startswith("data:image/svg+xml;base64,") or u.endswith(".csv") for u in dom.urls), dom.urls
    assert all((day_report.out / u).is_file() for u in dom.urls if u.endswith(".csv"))


def test_dom_of_an_empty_period_says_no_data(report_dsn: str, tmp_path: Path) -> None:
    report = footfall_report(
        report_dsn, tmp_path / "out", "--store", seed.STORE, "--from", "2023-01-01", "--to", "2023-01-02"
    )
    assert report.completed.returncode == 0, report.completed.stderr
    dom = _dom(report, tmp_path)
    assert {s.id: s.heading for s in dom.sections} == TITLES
    for section in dom.sections:
        assert section.images == [] and section.no_data.startswith("No data: "), section
