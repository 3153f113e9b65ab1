"""datasets: shapes and ranges, recursive discovery, and each bad dataset refused at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
import torch
from PIL import Image

from pix2mobile.data import AlignedAB, Crop, ImageFolder, UnalignedAB, discover_images
from pix2mobile.errors import ConfigError, DataError

WriteImage = Callable[..., Path]


def _check_item(t: torch.Tensor, size: int) -> None:
    assert t.shape == (3, size, size) and t.dtype == torch.float32
    assert 0.0 <= float(t.min()) and float(t.max()) <= 1.0


def test_image_folder_is_recursive_and_skips_hidden_and_non_images(tmp_path: Path, write_image: WriteImage) -> None:
    write_image("root/a.png", 40, 30)
    write_image("root/sub/b.JPG", 30, 50, seed=1)
    write_image("root/sub/deeper/c.webp", 64, 64, mode="L", seed=2)
    write_image("root/.thumbs/d.png")
    write_image("root/._e.jpg")  # macOS resource fork next to a real file
    (tmp_path / "root/notes.txt").write_text("not an image")
    found = discover_images(tmp_path / "root")
    assert [p.name for p in found] == ["a.png", "b.JPG", "c.webp"]
    ds = ImageFolder(tmp_path / "root", 24)
    assert len(ds) == 3
    for i in range(3):
        _check_item(ds[i], 24)
    assert torch.equal(ds[1], ds[1])  # deterministic without augmentation


def test_augmentation_is_random_but_seedable(tmp_path: Path, write_image: WriteImage) -> None:
    write_image("root/a.png", 64, 48)
    ds = ImageFolder(tmp_path / "root", 32, random_crop=True, flip=True)
    torch.manual_seed(1)
    first = [ds[0] for _ in range(6)]
    torch.manual_seed(1)
    again = [ds[0] for _ in range(6)]
    assert all(torch.equal(x, y) for x, y in zip(first, again))
    assert any(not torch.equal(first[0], x) for x in first[1:])
    _check_item(first[0], 32)


def test_image_folder_from_memory() -> None:
    ds = ImageFolder([Image.new("RGB", (50, 40), (255, 0, 0)), ("grey", Image.new("L", (40, 40), 128))], 16)
    assert len(ds) == 2
    assert torch.allclose(ds[0][:, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    assert torch.allclose(ds[1], torch.full((3, 16, 16), 128 / 255))
    with pytest.raises(DataError, match="the list is empty"):
        ImageFolder([], 16)


def test_empty_and_missing_folders(tmp_path: Path) -> None:
    (tmp_path / "empty/sub").mkdir(parents=True)
    (tmp_path / "empty/sub/readme.md").write_text("x")
    with pytest.raises(DataError) as info:
        ImageFolder(tmp_path / "empty", 16)
    message = str(info.value)
    assert f"no images in {tmp_path / 'empty'}" in message and ".jpg" in message and ".png" in message
    assert "\n" not in message
    with pytest.raises(DataError, match="does not exist"):
        ImageFolder(tmp_path / "nowhere", 16)
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(DataError, match="is a file, not a folder"):
        ImageFolder(tmp_path / "file.png", 16)


def test_unreadable_image_is_named_before_training(tmp_path: Path, write_image: WriteImage) -> None:
    write_image("root/a.png")
    good = write_image("root/b.png")
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 2])
    (tmp_path / "root/c.jpg").write_bytes(b"")
    with pytest.raises(DataError) as info:
        ImageFolder(tmp_path / "root", 16)
    message = str(info.value)
    assert message.startswith(f"2 of 3 images in {tmp_path / 'root'} cannot be used; first: ")
    assert str(good) in message and "truncated" in message and "\n" not in message


def test_header_only_verification_defers_decode_errors(tmp_path: Path, write_image: WriteImage) -> None:
    bad = write_image("root/b.png")
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    ds = ImageFolder(tmp_path / "root", 16, verify="header")  # header is fine, pixels are not
    with pytest.raises(DataError, match="truncated"):
        ds[0]
    with pytest.raises(ConfigError, match="verify"):
        ImageFolder(tmp_path / "root", 16, verify="quick")  # type: ignore[arg-type]


def test_unaligned_layout_and_lengths(tmp_path: Path, write_image: WriteImage) -> None:
    for i in range(3):
        write_image(f"ds/trainA/a{i}.png", 40, 30, seed=i)
    for i in range(5):
        write_image(f"ds/trainB/nested/b{i}.jpg", 30, 40, seed=10 + i)
    ds = UnalignedAB(tmp_path / "ds", 16)
    assert len(ds) == 5
    item = ds[4]
    assert set(item) == {"A", "B"}
    _check_item(item["A"], 16)
    _check_item(item["B"], 16)
    assert torch.equal(ds[4]["A"], ds[1]["A"])  # A wraps around
    explicit = UnalignedAB((tmp_path / "ds/trainA", tmp_path / "ds/trainB"), 16, shuffle_b=True)
    assert len(explicit) == 5
    _check_item(explicit[0]["B"], 16)


def test_unaligned_from_memory() -> None:
    a = [Image.new("RGB", (20, 20), (255, 0, 0))]
    b = [Image.new("RGB", (20, 20), (0, 0, 255)), Image.new("RGB", (30, 20), (0, 255, 0))]
    ds = UnalignedAB((a, b), 8)
    assert len(ds) == 2
    assert float(ds[1]["A"][0].mean()) == 1.0 and float(ds[1]["B"][1].mean()) == 1.0


def test_unaligned_missing_folder(tmp_path: Path, write_image: WriteImage) -> None:
    write_image("ds/trainA/a.png")
    with pytest.raises(DataError, match=r"has no trainB/ folder; an unaligned dataset needs trainA/ and trainB/"):
        UnalignedAB(tmp_path / "ds", 16)
    with pytest.raises(DataError, match="no images in"):
        (tmp_path / "ds/trainB").mkdir()
        UnalignedAB(tmp_path / "ds", 16)


def test_unaligned_greyscale_against_colour_is_refused(tmp_path: Path, write_image: WriteImage) -> None:
    write_image("ds/trainA/a.png", mode="L")
    write_image("ds/trainA/b.png", mode="L")
    write_image("ds/trainB/c.jpg", mode="RGB")
    with pytest.raises(DataError) as info:
        UnalignedAB(tmp_path / "ds", 16)
    message = str(info.value)
    for part in ("trainA", "all greyscale", "a.png", "mode L", "trainB", "all colour", "c.jpg", "mode RGB",
                 "allow_mode_mismatch"):
        assert part in message
    ds = UnalignedAB(tmp_path / "ds", 16, allow_mode_mismatch=True)  # e.g. colourisation
    _check_item(ds[0]["A"], 16)
    write_image("ds/trainA/d.png", mode="RGB")  # a mixed folder is not a mismatch
    assert len(UnalignedAB(tmp_path / "ds", 16)) == 3


def test_aligned_splits_pairs_and_crops_both_halves_alike(tmp_path: Path) -> None:
    pair = Image.new("RGB", (64, 32), (255, 0, 0))
    pair.paste((0, 0, 255), (32, 0, 64, 32))
    (tmp_path / "train").mkdir()
    pair.save(tmp_path / "train/p.png")
    ds = AlignedAB(tmp_path, 16, phase="train")
    item = ds[0]
    _check_item(item["A"], 16)
    assert float(item["A"][0].mean()) == 1.0 and float(item["A"][2].mean()) == 0.0
    assert float(item["B"][2].mean()) == 1.0 and float(item["B"][0].mean()) == 0.0

    rng = torch.Generator().manual_seed(0)
    half = (torch.rand(32, 32, 3, generator=rng) * 255).to(torch.uint8).numpy()
    twin = Image.new("RGB", (64, 32))
    twin.paste(Image.fromarray(half), (0, 0))
    twin.paste(Image.fromarray(half), (32, 0))
    augmented = AlignedAB([twin], 16, random_crop=True, flip=True)
    for _ in range(4):
        item = augmented[0]
        assert torch.equal(item["A"], item["B"])


def test_aligned_refuses_non_pairs_and_tolerates_odd_widths(tmp_path: Path, write_image: WriteImage) -> None:
    write_image("pairs/ok.png", 65, 32)
    AlignedAB(tmp_path / "pairs", 16)
    square = write_image("pairs/square.png", 32, 32)
    with pytest.raises(DataError) as info:
        AlignedAB(tmp_path / "pairs", 16)
    message = str(info.value)
    assert str(square) in message and "32x32" in message and "side by side" in message


def test_crop_options_are_validated() -> None:
    with pytest.raises(ConfigError, match="positive"):
        Crop(0)
    with pytest.raises(ConfigError, match="load_size"):
        Crop(32, load_size=16)
    assert Crop(256, random_crop=True).resize_to == 286
    assert Crop(256).resize_to == 256
