"""`distill report` rendered by a real browser: headless Chromium (Debian's `chromium`, installed
by scripts/setup_chromium.sh), driven as a subprocess, offline.

A copy of the page gets a small probe script that, once the page has loaded, writes what the
browser made of it (title, each image's natural size, every resource fetched) into the DOM, which
`--dump-dom` prints. The page's Content-Security-Policy is kept except for allowing that one
inline script, so an image from anywhere but a data: URI would show up broken. Two control
images that must come out broken prove the probe can see a broken image. A screenshot of the
unmodified page must not be blank.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from factories import run_cli
from report_helpers import build_output

PLOTS = ("rate-kind", "rate-teacher", "spend", "latency", "tokens", "reasoning", "errors")
REMOTE = "https://example.invalid/plot.png"
PROBE = f"""<img id="control-remote" src="{REMOTE}" alt="">
<img id="control-corrupt" src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==" alt="">
<script>
window.addEventListener("load", () => {{
  const images = Array.from(document.images, (i) => ({{
    id: i.id || (i.closest("figure") ? i.closest("figure").id : ""),
    complete: i.complete, width: i.naturalWidth, height: i.naturalHeight,
    shown: Math.round(i.getBoundingClientRect().width),
  }}));
  const resources = performance.getEntriesByType("resource").map((r) => r.name);
  const figures = Array.from(document.querySelectorAll("figure"), (f) => f.id);
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify({{ title: document.title, images, resources, figures }});
  document.body.appendChild(probe);
}});
</script>
"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.access("/usr/bin/chromium", os.X_OK):
        found = "/usr/bin/chromium"
    if found is None:
        pytest.skip("chromium is not installed: run scripts/setup_chromium.sh (apt: chromium)")
    return found


def _browse(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-extensions", "--no-first-run", "--no-default-browser-check",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # offline, whatever the page asks for
        f"--user-data-dir={profile}", "--window-size=1100,2600", "--hide-scrollbars", *args,
    ]  # fmt: skip
    env = {**os.environ, "HOME": str(profile)}
    return subprocess.run(command, capture_output=True, text=True, timeout=90, env=env, check=False)


def _probe(chromium: str, page: Path, tmp_path: Path) -> dict[str, Any]:
    text = page.read_text()
    assert "default-src 'none';" in text
    probed = text.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';")
    probed = probed.replace("</body>", PROBE + "</body>")
    target = tmp_path / "probed.html"
    target.write_text(probed)
    result = _browse(chromium, tmp_path / "profile-probe", "--dump-dom", target.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', result.stdout, re.S)
    assert found, f"no probe output (exit {result.returncode}):\n{result.stderr[-2000:]}"
    probe: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return probe


def test_report_renders_every_plot_in_chromium(tmp_path: Path) -> None:
    chromium = _chromium()
    built = build_output(tmp_path / "data")
    result = run_cli("report", "-c", str(built.config), "--quiet")
    assert result.returncode == 0, result.stderr
    page = built.out / "report.html"

    probe = _probe(chromium, page, tmp_path)
    assert probe["title"] == "distill report: t"
    assert probe["figures"] == [f"plot-{p}" for p in PLOTS]
    images = {i["id"]: i for i in probe["images"]}
    for plot in PLOTS:
        image = images.pop(f"plot-{plot}")
        assert image["complete"] and image["width"] >= 400 and image["height"] >= 200, image
        assert image["shown"] >= 400, image  # laid out at a readable size, not collapsed
    for control in ("control-remote", "control-corrupt"):  # the probe sees broken images
        assert images.pop(control)["width"] == 0
    assert images == {}
    assert set(probe["resources"]) <= {REMOTE}  # the control's, if any: the report fetches nothing

    shot = tmp_path / "shot.png"
    taken = _browse(chromium, tmp_path / "profile-shot", f"--screenshot={shot}", page.as_uri())
    assert shot.exists(), taken.stderr[-2000:]
    from matplotlib.image import imread

    pixels = imread(shot)[:, :, :3]
    assert pixels.shape[0] >= 2000 and pixels.shape[1] >= 1000
    ink = (pixels.min(axis=2) < 0.9).mean()  # share of pixels that are not (near) white
    colours = len({tuple(p) for p in (pixels[::7, ::7] * 255).astype(int).reshape(-1, 3)})
    assert ink > 0.03 and colours > 50, (ink, colours)
