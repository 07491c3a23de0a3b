"""Data: the Kaggle layout, the split, the images, the LightningDataModule and a synthetic sample."""
