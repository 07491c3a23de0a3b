"""A local web page to try a trained model: drop an image, see the top-5 artists and the Grad-CAM.

    python -m artworks.serve ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt [port=8000]

Serves until Ctrl-C; the page and its server: ``artworks.inference.web``.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from artworks.config import config_dir
from artworks.errors import ArtworksError
from artworks.inference.predictor import Predictor
from artworks.inference.web.server import ModelService, make_server


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="serve")
def _hydra_entry(cfg: DictConfig) -> None:
    try:
        predictor = Predictor.from_checkpoint(cfg.ckpt_path, image_size=cfg.image_size, device=cfg.device)
        try:
            server = make_server(ModelService(predictor, cfg.topk, cfg.max_upload_mb), cfg.host, cfg.port)
        except OSError as err:
            raise ArtworksError(
                f"Cannot listen on {cfg.host}:{cfg.port} ({err.strerror or err}). "
                "Pick another port, e.g. port=8001."
            ) from err
    except ArtworksError as err:
        print(f"\nartworks: {err.render()}\n", file=sys.stderr)
        sys.exit(2)
    host, port = server.server_address[:2]
    print(f"Serving {cfg.ckpt_path} on http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main() -> None:
    _hydra_entry()


if __name__ == "__main__":
    main()
