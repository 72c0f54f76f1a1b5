"""Data: shipped MNIST (IDX), CIFAR-10 binary, text corpora, downloads and batching."""
from .files import DataError, data_root
from .images import ImageData, load_image_data
from .loader import BatchLoader, random_crop_flip

__all__ = ["BatchLoader", "DataError", "ImageData", "data_root", "load_image_data", "random_crop_flip"]
