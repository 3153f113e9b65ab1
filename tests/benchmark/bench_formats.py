"""Which formats the benchmark tests export (a plain module: test files import it by name)."""

FAST_STYLE_FORMATS = ["onnx", "ptl", "tflite"]
MORPH_FORMATS = ["onnx", "ptl", "tflite", "pte"]
