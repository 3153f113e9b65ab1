"""junyanz's ImagePool (Shrivastava et al. 2017): D sees a history of generated images.

Until the pool holds `size` images every fake is stored and returned; after that each fake is,
with probability 1/2, swapped for a random stored one. Draws come from torch's global RNG
(checkpointed with the run) and the contents are part of the training state.
"""

from __future__ import annotations

from typing import Any

import torch


class ImagePool:
    def __init__(self, size: int = 50):
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images.detach()      # as the pooled ones are: D's backward must not reach G
        out = []
        for image in images.detach().float():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif float(torch.rand(())) > 0.5:
                i = int(torch.randint(self.size, ()))
                out.append(self.images[i].clone())
                self.images[i] = image
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict[str, Any]:
        return {"size": self.size, "images": [t.cpu() for t in self.images]}

    def load_state_dict(self, state: dict[str, Any], device: torch.device | str = "cpu") -> None:
        self.images = [t.to(device) for t in state["images"]]
