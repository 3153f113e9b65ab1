"""A numpy evaluator of Core ML files (`.mlpackage` ML Programs, `.mlmodel` NeuralNetworks).

coremltools converts on Linux but cannot predict there; `evaluator.CoreMLModel` runs what an app
would ship so the parity gate can judge it. See `evaluator`'s docstring for what it emulates
(fp16 intermediates of fp16 programs) and what it refuses.
"""

from __future__ import annotations

from pix2mobile.runtimes.coreml_eval.evaluator import CoreMLModel, describe, read_spec, run_coreml

__all__ = ["CoreMLModel", "describe", "read_spec", "run_coreml"]
