"""report.html: every load event with a chip of each sighting, the totals and the input hashes that
run.json holds, failures with their errors, rebuilt on a rerun, and shown by a real browser with
the network shut off."""

from __future__ import annotations

import csv
import hashlib
import html.parser
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import infer

CHROMIUM = Path("/usr/bin/chromium")


class _Page(html.parser.HTMLParser):
    """The text of a page and every address it refers to."""

    def __init__(self, text: str):
        super().__init__()
        self.text, self.refs, self.html = [], [], text
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.refs += [v for k, v in attrs if k in ("src", "href") and v]

    def handle_data(self, data):
        self.text.append(data)

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def _infer(argv: list[str]) -> int:
    return infer.main(infer.get_args_parser().parse_args(argv))


@pytest.fixture(scope="module")
def season(clear_port, tiny_model, tmp_path_factory):
    """The clear port's three dated scenes, a damaged file beside them, and one run over them."""
    scenes = tmp_path_factory.mktemp("season")
    for tif in sorted(clear_port["scenes"].glob("*.tif")):
        shutil.copy(tif, scenes / tif.name)
    first = sorted(scenes.glob("*.tif"))[0]
    (scenes / "damaged.tif").write_bytes(first.read_bytes()[:5000])
    out = scenes.parent / f"{scenes.name}-out"
    args = [str(scenes), "--model", str(tiny_model["path"]), "--berths", str(clear_port["berths"]), "--workers", "0",
            "--quiet", "--threads", "1"]
    assert _infer([*args, "--out", str(out)]) == 1  # one scene failed, the rest finished
    return {"scenes": scenes, "out": out, "args": args}


def test_the_report_holds_each_event_its_chips_the_totals_and_the_hashes(season):
    out = season["out"]
    page = _Page((out / "report.html").read_text(encoding="utf-8"))
    words = page.words
    record = json.loads((out / "run.json").read_text())
    with open(out / "events.csv", newline="") as f:
        events = list(csv.DictReader(f))
    assert events, "the clear port's tankers at the oil berth make load events"
    for e in events:
        assert e["visit_id"] in words
        for scene in e["scenes"].split(";"):
            # The chip of this berth as that scene saw it, saved losslessly, its sidecar naming the file's hash.
            chip = f"evidence/{scene}/{e['berth']}.png"
            assert chip in page.refs, (e["visit_id"], chip)
            assert (out / chip).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            sidecar = json.loads((out / chip).with_suffix(".json").read_text())
            source = season["scenes"] / f"{scene}.tif"
            assert sidecar["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
            assert sidecar["berth"] == e["berth"] and len(sidecar["window_lonlat"]) == 4
            assert any(d["vessel_id"] for d in sidecar["detections"])
    summary = json.loads((out / "summary.json").read_text())
    total = summary["periods"][-1]
    assert f"{total['barrels_observed']:,.0f}" in words
    assert f"{total['barrels_corrected']['median']:,.0f}" in words
    assert f"{total['barrels_corrected']['low']:,.0f}-{total['barrels_corrected']['high']:,.0f}" in words
    # Each distinct hull of hulls.csv, with links to its events' sightings above.
    with open(out / "hulls.csv", newline="") as f:
        hulls = list(csv.DictReader(f))
    assert hulls and f"distinct hulls: {summary['hulls']['among_seen_visits']['reported']}" in words
    for h in hulls:
        assert h["hull_id"] in words and all(f"#{v}" in page.refs for v in h["visits"].split(";"))
    for s in record["scenes"]:
        assert s["provenance"]["sha256"] in words, s["scene"]  # every input's hash, the damaged one too
        assert s["provenance"]["sha256"] == hashlib.sha256(Path(s["path"]).read_bytes()).hexdigest()
    failed = [s for s in record["scenes"] if s["status"] != "ok"]
    assert [s["scene"] for s in failed] == ["damaged"]
    assert f"FAILED: {' '.join(failed[0]['error'].split())}" in words
    assert record["model"]["sha256"] in words
    # What the page loads lies in the output folder: no address reaches the network.
    assert not [r for r in page.refs if "://" in r or r.startswith("//")]
    for ref in page.refs:
        if ref.startswith("#"):  # a link within the page: its target is there
            assert f'id="{ref[1:]}"' in page.html, ref
            continue
        assert (out / ref).is_file(), ref


def test_a_rerun_rebuilds_the_same_report_and_a_changed_file_is_read_again(season, tmp_path):
    out = season["out"]
    before = (out / "report.html").read_bytes()
    (out / "report.html").unlink()
    assert _infer([*season["args"], "--out", str(out)]) == 1
    assert (out / "report.html").read_bytes() == before  # rebuilt from the committed scene results

    # A scene file replaced by other bytes: its old result describes pixels that are gone.
    changed = tmp_path / "season"
    shutil.copytree(season["scenes"], changed)
    moved = tmp_path / "out"
    shutil.copytree(out, moved)
    victim = sorted(p for p in changed.glob("*.tif") if p.stem != "damaged")[0]
    data = bytearray(victim.read_bytes())
    data[-1] ^= 1  # one bit of the last tile
    victim.write_bytes(bytes(data))
    args = [str(changed), *season["args"][1:], "--out", str(moved)]
    assert _infer(args) == 1
    record = {s["scene"]: s for s in json.loads((moved / "run.json").read_text())["scenes"]}
    assert record[victim.stem]["provenance"]["sha256"] == hashlib.sha256(bytes(data)).hexdigest()
    assert hashlib.sha256(bytes(data)).hexdigest() in (moved / "report.html").read_text()


def _chromium():
    if not CHROMIUM.is_file():
        pytest.skip("no Chromium at /usr/bin/chromium (.ci/run installs Debian's chromium package)")
    return pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")


def test_the_report_renders_offline_in_chromium(season, tmp_path):
    sync_api = _chromium()
    from PIL import Image

    out = season["out"]
    shot = tmp_path / "report.png"
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems, asked = [], []
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))

        def only_files(route):
            asked.append(route.request.url)
            return route.continue_() if route.request.url.startswith("file://") else route.abort()

        page.route("**/*", only_files)
        page.goto((out / "report.html").as_uri())
        page.wait_for_load_state("load")
        broken = page.evaluate("[...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
        box = page.locator("#mapsvg").bounding_box()
        shown = page.evaluate("[...document.querySelectorAll('#mapsvg g.scene')].map(g => !g.classList.contains('hidden'))")
        page.click("#next")
        shown_next = page.evaluate("[...document.querySelectorAll('#mapsvg g.scene')].map(g => !g.classList.contains('hidden'))")
        page.click("#prev")
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert not [u for u in asked if not u.startswith("file://")], "the page asked the network for something"
    assert problems == [] and broken == []
    assert shown.count(True) == 1 and shown_next.count(True) == 1 and shown != shown_next  # scene by scene
    pixels = np.asarray(Image.open(shot).convert("RGB"), np.float32)
    assert pixels.std() > 20  # not a blank page
    x0, y0 = int(box["x"]), int(box["y"])
    drawn = pixels[y0: y0 + int(box["height"]), x0: x0 + int(box["width"])]
    assert drawn.shape[0] > 300 and drawn.std() > 10  # the map shows a scene's picture, not an empty frame
