"""Using a trained model: the Predictor and file discovery, Grad-CAM, export, the try-it web page."""
