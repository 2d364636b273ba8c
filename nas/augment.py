"""Image augmentation per batch with tensor ops on the batch's device: random crop with padding, horizontal flip."""

from __future__ import annotations

import torch

AUGMENTATIONS = ("crop", "flip")
CROP_PADDING = 4


def parse_augment(text: str) -> tuple[str, ...]:
    """The augmentations a ``train.augment`` value names (``none`` or ``crop,flip``); ValueError for others."""
    names = tuple(n.strip() for n in str(text).split(",") if n.strip() and n.strip() != "none")
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation {', '.join(unknown)}; use none or a list of {', '.join(AUGMENTATIONS)}")
    return names


def auto_augment(input_shape: tuple[int, ...]) -> str:
    """What ``train.augment=auto`` means for data of ``input_shape``: crop and flip for colour images (natural
    images), none for grayscale images (digits and characters, whose class a flip can change) and tables."""
    return "crop,flip" if len(input_shape) == 3 and input_shape[0] == 3 else "none"


def flip(x: torch.Tensor) -> torch.Tensor:
    """Each image of the N×C×H×W batch mirrored left-right with probability one half."""
    mask = torch.rand(len(x), device=x.device) < 0.5
    return torch.where(mask.view(-1, 1, 1, 1), x.flip(-1), x)


def crop(x: torch.Tensor, padding: int = CROP_PADDING) -> torch.Tensor:
    """Each image of the N×C×H×W batch zero-padded by ``padding`` and cropped back to H×W at a random offset."""
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (n, 1), device=x.device)
    dx = torch.randint(0, 2 * padding + 1, (n, 1), device=x.device)
    rows = (dy + torch.arange(h, device=x.device)).view(n, 1, h, 1).expand(n, c, h, w + 2 * padding)
    cols = (dx + torch.arange(w, device=x.device)).view(n, 1, 1, w).expand(n, c, h, w)
    return padded.gather(2, rows).gather(3, cols)


def augment(x: torch.Tensor, names: tuple[str, ...]) -> torch.Tensor:
    """``x`` with the named augmentations applied (4-D image batches only; other inputs are returned as they are)."""
    if x.dim() != 4:
        return x
    if "crop" in names:
        x = crop(x)
    if "flip" in names:
        x = flip(x)
    return x
