"""``audiofuse app``: a local web page that scores a recording, for people without a terminal.

One page (``app_page.html``): upload a file or record from the microphone,
pick a committed model, and see the verdict, P(abnormal), the ``unsure``
reason and the plot of :func:`audiofuse.predict.plot.plot_prediction`.
It is served by the standard library's :mod:`http.server`: the page needs
one form and one JSON call, so it costs no dependency (``docs/app.md`` says
why not Gradio or FastAPI). It is meant for one person on their own machine:
it binds to 127.0.0.1 unless told otherwise, and it limits the upload's size
and the recording's length.

Endpoints
---------
``GET /``
    The page, with the model picker filled in.
``POST /api/predict?model=NAME&name=FILENAME``
    The recording as the raw request body. Answers JSON: ``{"ok": true,
    "result": {...}, "plot_png": <base64>}`` or ``{"ok": false, "error":
    "audiofuse: error: FILENAME: reason"}``, the CLI's one-line error.
"""

from __future__ import annotations

import base64
import html
import json
import re
import sys
import tempfile
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlparse

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_MAX_UPLOAD_MB",
    "DEFAULT_MAX_SECONDS",
    "committed_models",
    "make_server",
    "serve",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_MAX_UPLOAD_MB = 20.0
"""Largest upload accepted: 10 min of 16-bit 16 kHz WAV, or hours of M4A."""
DEFAULT_MAX_SECONDS = 600.0
"""Longest recording scored: 10 min (a clinical PCG lasts seconds to a minute)."""


def committed_models(root: str | Path | None = None) -> dict[str, Path]:
    """The model folders shipped with the package, by name, the default first.

    Parameters
    ----------
    root : path, optional
        Where to look (default: :func:`audiofuse.resources.models_root`).

    Returns
    -------
    dict
        ``{"audiofuse-plus": Path(...), ...}``: every sub-folder holding
        ``config.json`` and a model file.
    """
    from audiofuse.predict.resources import DEFAULT_MODEL_NAME, models_root

    root = Path(root) if root is not None else models_root()
    found = {
        p.name: p
        for p in sorted(root.iterdir())
        if (p / "config.json").is_file()
        and ((p / "model.onnx").is_file() or (p / "best.keras").is_file())
    } if root.is_dir() else {}
    if DEFAULT_MODEL_NAME in found:
        found = {DEFAULT_MODEL_NAME: found.pop(DEFAULT_MODEL_NAME), **found}
    return found


def _safe_name(name: str) -> str:
    """An uploaded file's own name, made safe to use as a file name in a temporary folder."""
    name = Path(name.replace("\\", "/")).name
    name = re.sub(r"[^A-Za-z0-9._ ()+-]", "_", name).strip(" .")[:120]
    return name or "recording"


class _Models:
    """Predictors loaded on first use and kept (loading is the slow part)."""

    def __init__(self, folders: dict[str, Path]):
        self.folders = folders
        self.loaded = {}
        self.lock = threading.Lock()
        # one recording scored at a time: Keras models are not safe to call from several
        # threads, and a page for one person gains nothing from scoring in parallel
        self.scoring = threading.Lock()

    def get(self, name: str):
        from audiofuse.predict.predictor import Predictor

        with self.lock:
            if name not in self.loaded:
                self.loaded[name] = Predictor.load(self.folders[name])
            return self.loaded[name]

    def describe(self, name: str) -> str:
        """``kind, profile`` from the folder's config, without loading the model."""
        try:
            config = json.loads((self.folders[name] / "config.json").read_text())
            runtime = "ONNX" if (self.folders[name] / "model.onnx").exists() else "Keras, slow start"
            return f"{config.get('kind', '?')}, profile {config['profile']['name']}, {runtime}"
        except (OSError, ValueError, KeyError, TypeError):
            return "?"


def _page(models: _Models, max_upload_mb: float, max_seconds: float) -> bytes:
    template = resources.files("audiofuse.cli").joinpath("app_page.html").read_text(encoding="utf-8")
    options = "\n".join(
        f'<option value="{html.escape(name)}">{html.escape(name)} '
        f"({html.escape(models.describe(name))})</option>"
        for name in models.folders
    )
    return (
        template.replace("{{MODEL_OPTIONS}}", options)
        .replace("{{MAX_UPLOAD_MB}}", f"{max_upload_mb:g}")
        .replace("{{MAX_SECONDS}}", f"{max_seconds:g}")
        .encode("utf-8")
    )


def make_server(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    models: dict[str, Path] | None = None,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    quiet: bool = False,
) -> ThreadingHTTPServer:
    """The page's HTTP server, bound but not yet serving (call ``serve_forever``).

    Parameters
    ----------
    host, port : str, int
        Where to listen; port 0 picks a free one (``server.server_address``).
    models : dict, optional
        ``{name: folder}`` offered by the picker (default: :func:`committed_models`).
    max_upload_mb, max_seconds : float
        Limits on the upload's size and the recording's length.
    quiet : bool
        No request log on stderr.
    """
    registry = _Models(committed_models() if models is None else dict(models))
    if not registry.folders:
        raise FileNotFoundError("no model folders found for the page's model picker")
    page = _page(registry, max_upload_mb, max_seconds)
    max_bytes = int(max_upload_mb * 1024 * 1024)

    class Handler(BaseHTTPRequestHandler):
        server_version = "audiofuse-app"

        def log_message(self, format, *args):  # noqa: A002 (the base class's name)
            if not quiet:
                sys.stderr.write(f"audiofuse app: {format % args}\n")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: dict) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json")

        def _error(self, status: int, name: str, reason: str) -> None:
            self._json(status, {"ok": False, "error": f"audiofuse: error: {name}: {reason}"})

        def do_GET(self):  # noqa: N802 (http.server's name)
            if urlparse(self.path).path in ("/", "/index.html"):
                self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
            else:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

        def do_POST(self):  # noqa: N802
            url = urlparse(self.path)
            if url.path != "/api/predict":
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")
                return
            query = parse_qs(url.query)
            name = _safe_name(query.get("name", ["recording"])[0])
            model = query.get("model", [next(iter(registry.folders))])[0]
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                self._error(HTTPStatus.LENGTH_REQUIRED, name, "no Content-Length")
                return
            if length > max_bytes:
                # drained unread (a browser may not read an answer sent mid-upload), up to
                # a bound past which the connection is simply closed
                self.close_connection = True
                left = length if length <= 50 * max_bytes else 0
                while left > 0:
                    chunk = self.rfile.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    left -= len(chunk)
                self._error(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    name,
                    f"file is {length / 2**20:.1f} MB, over the page's limit of "
                    f"{max_upload_mb:g} MB (the command line has no limit)",
                )
                return
            body = self.rfile.read(length)
            if model not in registry.folders:
                self._error(HTTPStatus.BAD_REQUEST, name, f"unknown model {model!r}")
                return
            answer = _score(registry, model, name, body, max_seconds)
            self._json(HTTPStatus.OK if answer["ok"] else HTTPStatus.UNPROCESSABLE_ENTITY, answer)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def _score(registry: _Models, model: str, name: str, body: bytes, max_seconds: float) -> dict:
    """Score one upload in a temporary folder; the answer the page shows."""
    from audiofuse.predict.predictor import PredictError

    try:
        predictor = registry.get(model)
    except PredictError as err:
        return {"ok": False, "error": f"audiofuse: error: {err}"}
    with tempfile.TemporaryDirectory(prefix="audiofuse-app-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(body)
        try:
            with registry.scoring:
                result = predictor.predict_file(
                    path, plot_dir=tmp, plot_name="plot", display_name=name,
                    max_seconds=max_seconds,
                )
        except PredictError as err:
            return {"ok": False, "error": f"audiofuse: error: {err}"}
        png = base64.b64encode(Path(result.pop("plot")).read_bytes()).decode("ascii")
    result["model"] = model
    return {
        "ok": True,
        "result": result,
        "model_description": predictor.describe(model),
        "plot_png": png,
    }


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
    max_seconds: float = DEFAULT_MAX_SECONDS,
) -> int:
    """Serve the page until interrupted; the ``audiofuse app`` command."""
    try:
        server = make_server(host, port, max_upload_mb=max_upload_mb, max_seconds=max_seconds)
    except OSError as err:
        print(f"audiofuse: error: cannot listen on {host}:{port} ({err.strerror or err})",
              file=sys.stderr)
        return 2
    bound_host, bound_port = server.server_address[:2]
    print(f"audiofuse app: open http://{bound_host}:{bound_port}/  (Ctrl+C stops it)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"audiofuse app: note: listening on {host}: other machines can reach this page",
              file=sys.stderr)
    print("audiofuse app: a research model, not a medical device", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
