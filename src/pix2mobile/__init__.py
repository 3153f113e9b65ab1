"""pix2mobile: train image-to-image generators, export them to phones, prove the artifacts match."""

__version__ = "0.1.0"
