"""A local web page to try a trained model: drop an image, see the top-5 artists and the Grad-CAM.

    python -m artworks.serve ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt [port=8000]

Standard library only (``http.server``); the page is ``index.html`` beside this file.
"""
