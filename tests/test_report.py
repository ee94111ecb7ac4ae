"""The HTML report: rendered from stored records, and checked in a real headless browser (Debian's chromium).

The browser test is skipped, with the reason, where no chromium is installed (`.ci/run` installs it). It saves a
screenshot to test-artifacts/report.png.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from theory_lab.claims import registry, run_check
from theory_lab.cli import main

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def report_with_one_record(tmp_path, monkeypatch):
    monkeypatch.setenv("THEORY_LAB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("THEORY_LAB_FIGURES", str(tmp_path / "figs"))
    run_check(registry()["loops.gaussian-refit"], overrides={"t": "8"}, seeds=200)
    run_check(registry()["loops.gaussian-refit"], seeds=300)  # the quick-profile record the report shows
    out = tmp_path / "report" / "index.html"
    assert main(["report", "--out", str(out)]) == 0
    return out


def test_report_lists_every_claim_and_embeds_the_figure(report_with_one_record):
    html = report_with_one_record.read_text()
    rows = re.findall(r'<tr class="claim-row" data-family="[^"]*" data-verdict="([^"]*)"', html)
    assert len(rows) == len(registry())
    assert "PASS" in rows and "NOT RUN" in rows
    assert html.count('class="claim-figure"') == 1 and "data:image/png;base64," in html
    assert "http://" not in html and "https://" not in html  # self-contained: no network


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_report_in_headless_browser(report_with_one_record, tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
    url = report_with_one_record.resolve().as_uri()
    flags = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=5000"]
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    body = re.search(r"<body([^>]*)>", dom).group(1)
    assert f'data-claims="{len(registry())}"' in body
    figures = re.search(r'data-figures="(\d+)"', body)
    loaded = re.search(r'data-figures-loaded="(\d+)"', body)
    assert figures and loaded, "the page's load handler did not run"
    assert int(figures.group(1)) >= 1 and loaded.group(1) == figures.group(1)
    assert len(re.findall(r'class="claim-row"', dom)) == len(registry())
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    subprocess.run([*flags, "--window-size=1300,1800", f"--screenshot={shot}", url], capture_output=True,
                   timeout=120, check=True)
    assert shot.stat().st_size > 10_000
