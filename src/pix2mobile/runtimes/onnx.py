"""Run `.onnx` artifacts with ONNX Runtime (CPU execution provider), as the parity gate and `apply` do.

`residency(path)` counts the graph's nodes by op_type.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pix2mobile.manifest import Residency
from pix2mobile.models.spec import IOSpec
from pix2mobile.runtimes.common import Runner, call_runner, require


def load_runner(path: str | Path, io: IOSpec) -> Runner:
    ort = require("onnxruntime", "onnxruntime", "ONNX verification")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])

    def run(inputs: Sequence[object]) -> list[np.ndarray]:
        def feed(named: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            names = [o.name for o in session.get_outputs()]
            return dict(zip(names, session.run(names, named)))
        return call_runner(feed, io, inputs)

    return run


def residency(path: str | Path) -> Residency:
    """The graph's nodes by op_type (a node of another domain as "DOMAIN::OP"), the subgraphs of
    control-flow nodes and local functions included; read with `onnx.load` without external data."""
    onnx = require("onnx", "onnx", "reading an ONNX graph")
    model = onnx.load(str(path), load_external_data=False)
    ops: Counter[str] = Counter()

    def walk(nodes: Any) -> None:
        for node in nodes:
            ops[node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"] += 1
            for attr in node.attribute:
                for graph in [attr.g] if attr.HasField("g") else list(attr.graphs):
                    walk(graph.node)

    walk(model.graph.node)
    for function in model.functions:
        walk(function.node)
    return Residency(ops=dict(ops), unit="ONNX nodes",
                     note=f"{len(model.functions)} local functions, their nodes counted" if model.functions else None)
