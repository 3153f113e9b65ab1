"""Run `.pte` artifacts with ExecuTorch's Python runtime (the XNNPACK delegate is linked in).

`residency(path)` reads the program's instructions: XNNPACK delegate segments and portable-kernel calls.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from pix2mobile.errors import ExportError
from pix2mobile.manifest import Residency
from pix2mobile.models.spec import IOSpec
from pix2mobile.runtimes.common import Runner, as_outputs, require, to_numpy, to_tensor

METHOD = "forward"
XNNPACK = "XnnpackBackend"
"""The delegate id ExecuTorch's XNNPACK backend writes into a program."""


def load_runner(path: str | Path, io: IOSpec) -> Runner:
    runtime_mod = require("executorch.runtime", "executorch", "ExecuTorch verification")
    program = runtime_mod.Runtime.get().load_program(Path(path))
    if METHOD not in program.method_names:
        raise ExportError(f"{path}: no '{METHOD}' method (has {sorted(program.method_names)})")
    method = program.load_method(METHOD)

    def run(inputs: Sequence[object]) -> list[np.ndarray]:
        outs = method.execute([to_tensor(x) for x in inputs])
        return [to_numpy(y) for y in as_outputs(list(outs), io)]

    return run


def residency(path: str | Path) -> Residency:
    """Where the program's instructions run, read from the file (`deserialize_pte_binary`, no runtime).

    Every method's instruction chains are walked: a DelegateCall is one delegate segment (an
    XNNPACK partition); a KernelCall runs an operator on the portable CPU kernels, outside every
    delegate, and is counted by `name.overload` ("aten::abs.out"). `ops` holds both, a delegate
    call under "delegate:BACKEND". Other instructions (moves, jumps, frees) run no operator."""
    require("executorch.exir", "executorch", "reading an ExecuTorch program")
    from executorch.exir._serialize._program import deserialize_pte_binary

    program = deserialize_pte_binary(Path(path).read_bytes()).program
    ops: Counter[str] = Counter()
    portable: Counter[str] = Counter()
    segments, backends = 0, set()
    for plan in program.execution_plan:
        for chain in plan.chains:
            for instruction in chain.instructions:
                args = instruction.instr_args
                kind = type(args).__name__
                if kind == "DelegateCall":
                    backend = plan.delegates[args.delegate_index].id
                    segments += 1
                    backends.add(backend)
                    ops[f"delegate:{backend}"] += 1
                elif kind == "KernelCall":
                    op = plan.operators[args.op_index]
                    name = f"{op.name}.{op.overload}" if op.overload else op.name
                    portable[name] += 1
                    ops[name] += 1
    methods = [plan.name for plan in program.execution_plan]
    notes = []
    if backends - {XNNPACK}:
        notes.append(f"delegates to {', '.join(sorted(backends))}")
    if len(methods) != 1:
        notes.append(f"{len(methods)} methods ({', '.join(methods)}), counted together")
    return Residency(ops=dict(ops), unit="instructions", delegate_segments=segments, portable_calls=dict(portable),
                     note="; ".join(notes) or None)
