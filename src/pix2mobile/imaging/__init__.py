"""The pre/post-processing contract: how a photo becomes a model's input and its output a photo.

Written once in `docs/preprocessing.md` and implemented here (numpy only), in the Android core
(Kotlin), the iOS core (Swift) and the web page (JavaScript); `tests/golden/` holds the vectors all
four must reproduce. Every step is defined down to the order of floating-point operations, so a
tensor made from 8-bit pixels is bit-identical in every language:

- `pixels`: 8-bit RGB <-> a float32 tensor in a manifest's layout and value range;
- `resize`: the one resampler (separable triangle filter, antialiased when shrinking);
- `plan`: the three ways an image of any size meets a model: `fit` (letterbox), `tile`
  (overlapping tiles with a blend window) and `native` (pad to the model's size multiple).
"""
