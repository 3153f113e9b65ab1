"""Batches whose order and augmentation are a function of (seed, position) alone.

The data stream is an endless sequence of item keys: key k is item perm_e[k mod n] of epoch
e = k div n, where perm_e is a permutation seeded by (seed, e). Each item is loaded under its
own seed (its crops, flips and B-pairings draw from torch's RNG inside `torch.random.fork_rng`),
so the global RNG is untouched, worker processes change nothing, and a resumed run that
restores `position` sees exactly the batches an uninterrupted one would.

Under torchrun the stream is cut into global batches of `batch_size x world` keys and each
rank loads its own share (`shard_keys`): rank r of 2 with batch b loads exactly the items that
one process with batch 2b would put at the same places of its batch. `position` counts global
items, so the saved data state means the same thing at any world size.
"""

from __future__ import annotations

import signal
from typing import Any, Iterator, Protocol, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, default_collate

_MIX = 0x9E3779B97F4A7C15


def _mix(*parts: int) -> int:
    """A 63-bit seed from integers (splitmix64 finaliser), stable across runs and platforms."""
    h = 0
    for p in parts:
        h = (h ^ (p & 0xFFFFFFFFFFFFFFFF)) * _MIX & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
        h = h * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 27
    return h & 0x7FFFFFFFFFFFFFFF


class BatchSource(Protocol):
    def __next__(self) -> Any: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...
    def close(self) -> None: ...


class SeededItems(Dataset):
    """`dataset[index]` computed under a fixed RNG seed; keys are (index, seed) pairs."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        index, seed = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.dataset[index]


def shard_keys(keys: Sequence[Any], rank: int, world: int, groups: int = 1) -> list[Any]:
    """Rank `rank`'s share of one global batch: split into `groups` equal consecutive parts (a
    recipe that treats the halves of its batch differently, BicycleGAN, has 2), each part cut
    into `world` contiguous slices; the rank takes slice `rank` of every part, in order.

    So a rank's batch has the layout a single process's batch has, and concatenating the
    ranks' slices part by part gives back the global batch.
    """
    if world == 1:
        return list(keys)
    part = len(keys) // groups
    per = part // world
    return [k for g in range(groups) for k in keys[g * part + rank * per:g * part + (rank + 1) * per]]


class _KeyBatches:
    """Endless lists of (index, seed) keys from stream position `start` (a global item count)."""

    def __init__(self, n: int, batch_size: int, seed: int, start: int, shuffle: bool,
                 rank: int = 0, world: int = 1, groups: int = 1):
        self.n, self.batch_size, self.seed, self.start, self.shuffle = n, batch_size, seed, start, shuffle
        self.rank, self.world, self.groups = rank, world, groups
        self._perm: tuple[int, torch.Tensor | None] = (-1, None)

    def key(self, k: int) -> tuple[int, int]:
        epoch, i = divmod(k, self.n)
        if not self.shuffle:
            return i, _mix(self.seed, k)
        if self._perm[0] != epoch:
            g = torch.Generator().manual_seed(_mix(self.seed, epoch, 1))
            self._perm = (epoch, torch.randperm(self.n, generator=g))
        return int(self._perm[1][i]), _mix(self.seed, k)  # type: ignore[index]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        k, step = self.start, self.batch_size * self.world
        while True:
            yield [self.key(j) for j in shard_keys(range(k, k + step), self.rank, self.world, self.groups)]
            k += step


def _ignore_sigint(_: int) -> None:
    """Workers leave Ctrl-C to the main process, which saves a checkpoint before it exits."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class SeededBatches:
    """Endless, resumable batches of a map-style dataset (wrapping around epochs as needed).

    `batch_size` is this process's; with `world` > 1 it loads rank `rank`'s share of each global
    batch of batch_size x world items (see `shard_keys` for `groups`).
    """

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, *, shuffle: bool = True,
                 workers: int = 0, pin_memory: bool = False, rank: int = 0, world: int = 1, groups: int = 1):
        if batch_size % groups:
            raise ValueError(f"batch size {batch_size} does not split into {groups} groups")
        self.items = SeededItems(dataset)
        self.batch_size, self.seed, self.shuffle = batch_size, seed, shuffle
        self.workers, self.pin_memory = workers, pin_memory
        self.rank, self.world, self.groups = rank, world, groups
        self.position = 0
        self._iter: Iterator[Any] | None = None

    def _start(self) -> Iterator[Any]:
        keys = _KeyBatches(len(self.items), self.batch_size, self.seed, self.position, self.shuffle,
                           self.rank, self.world, self.groups)
        # Its own generator: creating an iterator draws a base seed, which must not come from
        # (and shift) the global RNG that the checkpoint restores.
        loader = DataLoader(self.items, batch_sampler=keys, num_workers=self.workers,
                            pin_memory=self.pin_memory, worker_init_fn=_ignore_sigint if self.workers else None,
                            prefetch_factor=4 if self.workers else None,
                            generator=torch.Generator().manual_seed(_mix(self.seed, 2)))
        return iter(loader)

    def __next__(self) -> Any:
        if self._iter is None:
            self._iter = self._start()
        batch = next(self._iter)
        self.position += self.batch_size * self.world
        return batch

    def state_dict(self) -> dict[str, Any]:
        """`position` counts global items: the same state resumes at any world size."""
        return {"position": self.position, "seed": self.seed, "batch_size": self.batch_size * self.world}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.close()
        self.position = int(state["position"])

    def close(self) -> None:
        self._iter = None   # worker processes shut down when their iterator goes


class Repeat:
    """The same batch every step (full-batch fits such as the morph's images)."""

    def __init__(self, batch: Any):
        self.batch = batch

    def __next__(self) -> Any:
        return self.batch

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


def fixed_batch(dataset: Dataset, n: int, seed: int, indices: Sequence[int] | None = None) -> Any:
    """Items 0..n-1 (wrapping), each under its own fixed seed: the batch every sample grid shows."""
    items = SeededItems(dataset)
    size = len(items)
    picks = list(indices) if indices is not None else [i % size for i in range(n)]
    return default_collate([items[(i, _mix(seed, 0x5A11, j))] for j, i in enumerate(picks)])
