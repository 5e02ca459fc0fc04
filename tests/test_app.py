"""``audiofuse app``: its HTTP answers, and the page driven in a real headless browser.

The browser test needs Debian's ``chromium`` and ``chromium-driver`` and the
``selenium`` package (``.ci/run`` installs them where it can); it skips
cleanly where any is missing.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import find_real_data_dir

from audiofuse.cli import main as cli
from audiofuse.cli.app import DEFAULT_HOST, committed_models, make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def models():
    """The committed models that run with onnxruntime (quick to load), default first."""
    found = {name: path for name, path in committed_models().items()
             if (path / "model.onnx").exists()}
    if not found:
        pytest.skip("no committed ONNX model in this checkout")
    return found


@pytest.fixture(scope="module")
def server(models):
    """The page's server on a free port of 127.0.0.1, serving in a thread."""
    httpd = make_server(port=0, models=models, max_upload_mb=1.0, max_seconds=120, quiet=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    host, port = httpd.server_address[:2]
    yield f"http://{host}:{port}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    """A real PhysioNet recording when the data is here, else a synthetic one (20 s, 2 kHz)."""
    real = find_real_data_dir()
    if real is not None and (real / "physionet2016/training-a/a0001.flac").exists():
        return real / "physionet2016/training-a/a0001.flac"
    from audiofuse.data.synthetic import synthesize_pcg

    path = tmp_path_factory.mktemp("recording") / "synthetic_pcg.flac"
    sf.write(path, synthesize_pcg(20.0, 2000, rng=np.random.default_rng(0)), 2000)
    return path


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("broken") / "broken.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio at all" + bytes(range(256)) * 8)
    return path


def _post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_app_help_and_default_host(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["app", "--help"])
    out = capsys.readouterr().out
    assert stop.value.code == 0 and "127.0.0.1" in out and "--max-upload-mb" in out
    assert DEFAULT_HOST == "127.0.0.1"


def test_api_scores_a_recording_and_gives_the_cli_errors(server, models, recording, broken):
    default = next(iter(models))
    status, answer = _post(
        f"{server}/api/predict?model={default}&name={recording.name}", recording.read_bytes()
    )
    assert status == 200 and answer["ok"], answer
    result = answer["result"]
    assert result["file"] == recording.name and result["label"] in ("normal", "abnormal", "unsure")
    assert 0 <= result["p_abnormal"] <= 1 and answer["plot_png"].startswith("iVBORw0KGgo")

    status, answer = _post(f"{server}/api/predict?model={default}&name=broken.wav",
                           broken.read_bytes())
    assert status == 422 and not answer["ok"]
    assert answer["error"].startswith("audiofuse: error: broken.wav: cannot decode audio")
    assert "\n" not in answer["error"] and "/tmp" not in answer["error"]

    status, answer = _post(f"{server}/api/predict?name=big.wav", bytes(2 * 1024 * 1024))
    assert status == 413 and "over the page's limit of 1 MB" in answer["error"]

    status, answer = _post(f"{server}/api/predict?model=../../etc&name=x.wav", b"RIFF")
    assert status == 400 and "unknown model" in answer["error"]

    status, answer = _post(f"{server}/api/predict?name=..%2F..%2Fempty.wav", b"")
    assert status == 422 and "empty.wav: file is empty" in answer["error"]


def test_api_refuses_a_recording_over_the_length_limit(server, tmp_path):
    long = tmp_path / "long.wav"
    sf.write(long, np.zeros(2000 * 130, dtype=np.int16), 2000)  # 130 s > the 120 s limit
    status, answer = _post(f"{server}/api/predict?name=long.wav", long.read_bytes())
    assert status == 422 and "130 s long, over the limit of 120 s" in answer["error"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Debian chromium through chromedriver, or skip."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("no /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium "
                    "chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--window-size=1200,1600",
                 # a fake microphone (a tone) that needs no permission prompt
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 "--autoplay-policy=no-user-gesture-required",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    except Exception as err:  # a browser that cannot start here is a skip, not a failure
        pytest.skip(f"chromium did not start: {str(err).splitlines()[0]}")
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_page_in_a_headless_browser(server, browser, models, recording, broken, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + "/")
    page = browser.find_element(By.TAG_NAME, "body").text
    assert "Research model, not a medical device" in page
    options = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#model option")]
    assert options == list(models)

    # a real recording (copied: the upload's name is what the page shows)
    upload = tmp_path / recording.name
    shutil.copy(recording, upload)
    browser.find_element(By.ID, "file").send_keys(str(upload))
    wait = WebDriverWait(browser, 120)
    wait.until(shown.visibility_of_element_located((By.ID, "result")))
    verdict = browser.find_element(By.ID, "verdict").text
    assert verdict in ("NORMAL", "ABNORMAL", "UNSURE: no verdict")
    assert browser.find_element(By.ID, "r-file").text == recording.name
    p_text = browser.find_element(By.ID, "r-p").text
    assert float(p_text.split()[0]) <= 1.0
    assert ("not a verdict" in p_text) == verdict.startswith("UNSURE")
    assert browser.find_element(By.ID, "r-model").text.startswith(f"model {options[0]} (")
    assert browser.execute_script(
        "const img = document.getElementById('plot'); return img.complete && img.naturalWidth;"
    ) >= 800

    # another model from the picker scores the same upload again
    if len(options) > 1:
        browser.execute_script(
            "const s = document.getElementById('model'); s.value = arguments[0];"
            "s.dispatchEvent(new Event('change'));", options[1])
        wait.until(lambda d: d.find_element(By.ID, "r-model").text.startswith(f"model {options[1]} ("))

    # the microphone: recorded in the page, encoded as a WAV there, and scored
    browser.find_element(By.ID, "record").click()
    wait.until(lambda d: "Stop" in d.find_element(By.ID, "record").text)
    time.sleep(3.5)
    browser.find_element(By.ID, "record").click()
    wait.until(lambda d: d.find_element(By.ID, "r-file").text.startswith("microphone-"))
    assert browser.find_element(By.ID, "r-file").text.endswith(".wav")
    seconds = float(browser.find_element(By.ID, "r-length").text.split()[0])
    assert 2.5 <= seconds <= 8.0, seconds

    # a broken file: the CLI's one-line error, and no stale result
    browser.find_element(By.ID, "file").send_keys(str(broken))
    wait.until(shown.visibility_of_element_located((By.ID, "error")))
    error = browser.find_element(By.ID, "error").text
    assert error.startswith("audiofuse: error: broken.wav: cannot decode audio"), error
    assert not browser.find_element(By.ID, "result").is_displayed()
