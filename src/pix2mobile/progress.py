"""tqdm progress bars for the CLI: shown on a terminal, silent when stderr is not a TTY."""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm


def bar(total: int, desc: str, **kwargs: Any) -> tqdm:
    return tqdm(total=total, desc=desc, disable=not sys.stderr.isatty(), dynamic_ncols=True,
                leave=True, **kwargs)
