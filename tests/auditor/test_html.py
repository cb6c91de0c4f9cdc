"""The HTML report: one self-contained file, checked in a real headless browser."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

import equidesign as eqd
from tests.zoo import ZOO

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    paths = {}
    for name, lie in (("relu_on_irreps", False), ("c4_cnn_torch", True)):
        model, sym, x = ZOO[name].build(0)
        report = eqd.audit(model, sym, x, lie_derivative=lie)
        paths[name] = out / f"{name}.html"
        paths[name].write_text(report.to_html())
    return paths


def test_the_page_is_self_contained(pages):
    text = pages["c4_cnn_torch"].read_text()
    assert "<style>" in text and "data:image/png;base64," in text
    assert not re.search(r"(src|href)=\"(http|//)", text)  # nothing fetched from elsewhere
    assert "Lie derivative" in text
    lie = text.split("<h2>Lie derivative</h2>")[1].split("<h2>")[0]
    assert "(ReLU)" in lie and "remainder" in lie and "reflection" in lie  # kinds, padding


def _dump_dom(path, tmp_path):
    if BROWSER is None:
        if os.environ.get("EQUIDESIGN_SKIP_BROWSER"):
            pytest.skip("EQUIDESIGN_SKIP_BROWSER is set")
        pytest.fail("chromium is not installed: `make test` installs it (apt-get install chromium)")
    out = subprocess.run(
        [
            BROWSER,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            "--virtual-time-budget=5000",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.mark.parametrize("name, verdict", [("relu_on_irreps", "FAIL"), ("c4_cnn_torch", "PASS")])
def test_the_page_loads_without_errors_and_shows_the_verdict(pages, tmp_path, name, verdict):
    dom = _dump_dom(pages[name], tmp_path)
    assert 'data-loaded="ok"' in dom  # the page's load handler ran and saw no script error
    assert re.search(rf'id="verdict"[^>]*>{verdict}<', dom)
    rows = int(re.search(r'data-layer-rows="(\d+)"', dom).group(1))
    assert rows >= 3


def test_the_browser_check_catches_a_script_error(pages, tmp_path):
    broken = tmp_path / "broken.html"
    text = pages["c4_cnn_torch"].read_text()
    broken.write_text(text.replace("</body>", "<script>no_such_function();</script></body>"))
    assert 'data-loaded="errors"' in _dump_dom(broken, tmp_path)
