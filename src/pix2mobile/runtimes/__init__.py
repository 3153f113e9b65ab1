"""pix2mobile.runtimes: open an artifact of any format and run it, and measure how close it is.

- `onnx`, `tflite`, `ptl`, `pte`, `coreml`: `load_runner(path, io)`, each through the format's own
  runtime (Core ML through the numpy evaluator in `coreml_eval/`, since Core ML predicts only on
  Apple hardware).
- `parity`: PSNR/SSIM per image, the worst image decides. `timing`: runtimes opened for latency.
- `common`: the runner type and tensor/pixel conversions every runner shares.

Nothing here converts or gates; `convert` and `pipelines` build on it. Importing this package
imports nothing else (not even torch): a child process timing one ONNX file imports
`runtimes.timing` and onnxruntime alone, so its memory figure is onnxruntime's.
"""
