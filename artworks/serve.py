"""A local web page to try a trained model: drop an image, see the top-5 artists and the Grad-CAM.

    python -m artworks.serve ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt [port=8000]

Serves until Ctrl-C; the page and its server: ``artworks.inference.web``.
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from artworks.config import config_dir
from artworks.config.schema import SERVE, check_config
from artworks.errors import ArtworksError
from artworks.inference.predictor import Predictor
from artworks.inference.web.server import ModelService, make_server
from artworks.runtime.command import hydra_task, run_command


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="serve")
@hydra_task
def _hydra_entry(cfg: DictConfig) -> None:
    check_config(cfg, SERVE)
    predictor = Predictor.from_checkpoint(
        cfg.ckpt_path, image_size=cfg.image_size, device=cfg.device, tta=cfg.tta
    )
    try:
        server = make_server(ModelService(predictor, cfg.topk, cfg.max_upload_mb), cfg.host, cfg.port)
    except OSError as err:
        raise ArtworksError(
            f"Cannot listen on {cfg.host}:{cfg.port} ({err.strerror or err}). "
            "Pick another port, e.g. port=8001."
        ) from err
    host, port = server.server_address[:2]
    print(f"Serving {cfg.ckpt_path} on http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main() -> None:
    """``python -m artworks.serve`` / ``artworks-serve``."""
    run_command(_hydra_entry)


if __name__ == "__main__":
    main()
