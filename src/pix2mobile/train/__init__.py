"""Training: one shared loop (`loop.py`) and one module per recipe.

- `fast_style`: feed-forward style transfer (pytorch/examples fast_neural_style).
- `cyclegan`: unpaired translation (junyanz CycleGAN).
- `bicyclegan`: multimodal paired translation (junyanz BicycleGAN).
- `morph`: coordinate MLPs of an image sequence, and `render_transition` between two of them.

Under torchrun (`pix2mobile train --nproc N`, or torchrun itself) `dist.Dist` joins the process
group and the same loop and recipes train with DDP; see docs/scale-out.md.

Each recipe module has a frozen config dataclass (a `TrainConfig` subclass whose fields are
the CLI flags), a model object following `loop.GANModel` (declares `loss_names` and
`visual_names`; `set_input`, `optimize() -> dict[str, float]`, `visuals()`), and
`train(cfg) -> Path`, which returns the run directory.

To add a recipe: copy the smallest module (`fast_style.py`), write its config and model
object, call `open_session` -> build and validate data -> build the model -> `run_loop`, and
name it in its family's `Recipe` (`pix2mobile/families/<family>.py`), which makes it a
`pix2mobile train` subcommand, and add one test.
"""

from pix2mobile.train.config import TrainConfig
from pix2mobile.train.loop import GANModel, Recipe, Session, TrainingInterrupted, open_session, run_loop

__all__ = ["GANModel", "Recipe", "Session", "TrainConfig", "TrainingInterrupted", "open_session", "run_loop"]
