"""The try-it page: its JSON API, and the page itself driven end to end in headless Chromium."""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from artworks.inference.predictor import Predictor
from artworks.inference.web.server import ModelService, make_server

try:
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # the browser tests skip; the API test still runs
    webdriver = None

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def predictor(tiny_checkpoint: Path) -> Predictor:
    return Predictor.from_checkpoint(tiny_checkpoint, device="cpu")


@pytest.fixture(scope="module")
def url(predictor: Predictor) -> Iterator[str]:
    server = make_server(ModelService(predictor, topk=5), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def painting(sample_root: Path) -> Path:
    return sorted((sample_root / "images" / "images").rglob("*.jpg"))[5]


def post(url: str, data: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url + "api/predict", data=data, headers={"Content-Type": "image/jpeg"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def test_api_answers_top_k_and_a_gradcam_png(url: str, predictor: Predictor, painting: Path):
    status, answer = post(url, painting.read_bytes())
    assert status == 200
    expected = predictor.top(predictor.probabilities(predictor.read(painting)[None]), 5)[0]
    assert [t["artist"] for t in answer["top"]] == [artist for artist, _ in expected]
    assert [t["probability"] for t in answer["top"]] == pytest.approx([p for _, p in expected], abs=1e-6)
    png = base64.b64decode(answer["gradcam"].removeprefix("data:image/png;base64,"))
    assert png.startswith(b"\x89PNG")

    status, answer = post(url, b"plain text, not an image")
    assert status == 400 and "not a readable image" in answer["error"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("headless Chromium not installed (Debian: apt-get install chromium chromium-driver)")
    if webdriver is None:
        pytest.skip("selenium not installed (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="artworks-chromium-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def wait_for_results(driver, rows: int) -> list[str]:
    WebDriverWait(driver, 60).until(
        lambda d: (
            len(d.find_elements(By.CSS_SELECTOR, "#top tr")) == rows
            and d.execute_script("return document.getElementById('gradcam').naturalWidth") > 0
        )
    )
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#top td.artist")]


@pytest.mark.browser
def test_page_shows_top_artists_and_gradcam_for_a_chosen_file(browser, url: str, predictor, painting: Path):
    browser.get(url)
    WebDriverWait(browser, 30).until(lambda d: "4 artists" in d.find_element(By.ID, "model").text)
    browser.find_element(By.ID, "file").send_keys(str(painting))

    artists = wait_for_results(browser, rows=4)  # top-5 of a 4-artist model: all four
    expected = predictor.top(predictor.probabilities(predictor.read(painting)[None]), 5)[0]
    assert artists == [artist for artist, _ in expected]
    assert (
        browser.execute_script("return document.getElementById('gradcam').naturalWidth")
        == predictor.image_size
    )
    assert not browser.find_element(By.ID, "result").get_attribute("hidden")


@pytest.mark.browser
def test_page_accepts_a_dropped_image_and_reports_a_bad_one(browser, url: str, painting: Path):
    drop = """
        const [b64, name, type] = arguments;
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, {type}));
        document.getElementById('drop').dispatchEvent(
            new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
    """
    browser.get(url)
    browser.execute_script(
        drop, base64.b64encode(painting.read_bytes()).decode(), painting.name, "image/jpeg"
    )
    assert len(wait_for_results(browser, rows=4)) == 4

    browser.execute_script(drop, base64.b64encode(b"not an image").decode(), "notes.jpg", "image/jpeg")
    WebDriverWait(browser, 60).until(lambda d: d.find_element(By.ID, "error").is_displayed())
    assert "not a readable image" in browser.find_element(By.ID, "error").text
    assert not browser.find_element(By.ID, "result").is_displayed()
