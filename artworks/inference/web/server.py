"""The HTTP side of the try-it page: ``GET /`` serves the page, ``POST /api/predict`` analyses one image.

``POST /api/predict`` takes the raw image file as the request body and answers JSON:
``{"top": [{"artist", "probability"}, ...], "gradcam": "data:image/png;base64,...", "image_size": S}``,
or ``{"error": "..."}`` with status 400 for a file that is not a readable image.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import Any

from PIL import Image, UnidentifiedImageError

from artworks.inference import explain, tta
from artworks.inference.predictor import Predictor

log = logging.getLogger(__name__)


class ModelService:
    """Top-k artists and a Grad-CAM overlay for one uploaded image; requests share the model one at a time."""

    def __init__(self, predictor: Predictor, topk: int = 5, max_upload_mb: float = 50) -> None:
        self.predictor = predictor
        self.topk = topk
        self.max_upload_bytes = int(max_upload_mb * 1024 * 1024)
        self._lock = threading.Lock()  # Grad-CAM hooks and gradients are per-model state

    def info(self) -> dict[str, Any]:
        module = self.predictor.module
        return {
            "experiment": str(module.hparams.get("experiment", "")),
            "classes": len(self.predictor.class_names),
            "image_size": self.predictor.image_size,
            "topk": self.topk,
        }

    def analyse(self, data: bytes) -> dict[str, Any]:
        """The answer for one image file's bytes; raises ValueError/OSError when they are not an image."""
        image = self.predictor.read(io.BytesIO(data))[None]
        with self._lock:
            probabilities = self.predictor.probabilities(image)
            target = int(probabilities[0].argmax())
            shown = tta.whole_image(image, self.predictor.image_size)  # multicrop reads the image larger
            cam = explain.gradcam(self.predictor.net, self.predictor.normalise(shown), [target])[0]
        overlay = explain.gradcam_overlay(shown[0].permute(1, 2, 0).numpy(), cam)
        png = io.BytesIO()
        Image.fromarray(overlay).save(png, format="PNG")
        return {
            "top": [
                {"artist": a, "probability": p} for a, p in self.predictor.top(probabilities, self.topk)[0]
            ],
            "gradcam": "data:image/png;base64," + base64.b64encode(png.getvalue()).decode("ascii"),
            "image_size": self.predictor.image_size,
        }


def _page() -> bytes:
    return files("artworks.inference.web").joinpath("index.html").read_bytes()


def make_server(service: ModelService, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """A server for the page and its API (not started; ``port=0`` picks a free port)."""

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json")

        def do_GET(self) -> None:
            if self.path in ("/", "/index.html"):
                self._send(HTTPStatus.OK, _page(), "text/html; charset=utf-8")
            elif self.path == "/api/info":
                self._json(HTTPStatus.OK, service.info())
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {self.path}"})

        def do_POST(self) -> None:
            if self.path != "/api/predict":
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {self.path}"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= service.max_upload_bytes:
                limit = service.max_upload_bytes // 2**20
                error = f"send one image file of at most {limit} MB as the request body (got {length} bytes)"
                self._json(HTTPStatus.BAD_REQUEST, {"error": error})
                return
            data = self.rfile.read(length)
            try:
                answer = service.analyse(data)
            except UnidentifiedImageError:
                self._json(
                    HTTPStatus.BAD_REQUEST, {"error": "not a readable image (no format PIL can decode)"}
                )
                return
            except (OSError, ValueError, Image.DecompressionBombError) as err:
                error = f"not a readable image ({type(err).__name__}: {err})"
                self._json(HTTPStatus.BAD_REQUEST, {"error": error})
                return
            self._json(HTTPStatus.OK, answer)

        def log_message(self, format: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), format % args)

    return ThreadingHTTPServer((host, port), Handler)
