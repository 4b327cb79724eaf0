"""A vocabulary that turns text into token ids and back: characters (for Chinese) or words (for English).

Three special tokens come first: <pad> = 0 (fills short sequences in a batch), <bos> = 1 (starts a
decoder's input), <eos> = 2 (ends a sequence). A token outside the vocabulary, or a text longer than a
given limit, is an error that names the token or the length, never a silent <unk>.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import torch

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2  # their ids: the specials come first in every vocabulary
SPECIALS = (PAD, BOS, EOS)
_WORD = re.compile(r"[^\s-]+|-")  # words, and the hyphen of 'twenty-four' as a token of its own


class Vocab:
    """Token <-> id. ``split='char'``: every character is a token; ``split='word'``: words and hyphens."""

    def __init__(self, tokens: Iterable[str], *, split: str = "char") -> None:
        if split not in ("char", "word"):
            raise ValueError(f"split must be 'char' or 'word', got {split!r}")
        self.split = split
        self.itos = list(SPECIALS) + sorted(set(tokens) - set(SPECIALS))
        self.stoi = {tok: i for i, tok in enumerate(self.itos)}

    @classmethod
    def build(cls, texts: Iterable[str], *, split: str = "char") -> "Vocab":
        """The vocabulary of every token in ``texts``."""
        probe = cls([], split=split)
        return cls((tok for text in texts for tok in probe.tokenize(text)), split=split)

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens, split={self.split!r})"

    pad_id, bos_id, eos_id = PAD_ID, BOS_ID, EOS_ID

    def tokenize(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise ValueError(f"expected a str, got {type(text).__name__}")
        return list(text) if self.split == "char" else _WORD.findall(text)   # char: spaces are tokens too

    def encode(self, text: str, *, bos: bool = False, eos: bool = True, max_len: int | None = None) -> list[int]:
        """Token ids of ``text`` (with <eos> at the end by default)."""
        tokens = self.tokenize(text)
        unknown = [t for t in tokens if t not in self.stoi]
        if unknown:
            raise ValueError(f"{sorted(set(unknown))} not in the vocabulary ({len(self)} tokens) in {text!r}")
        ids = [self.bos_id] * bos + [self.stoi[t] for t in tokens] + [self.eos_id] * eos
        if max_len is not None and len(ids) > max_len:
            raise ValueError(f"{text!r} is {len(ids)} tokens long (with specials), more than max_len={max_len}")
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``, stopping at the first <eos> and skipping <pad> and <bos>."""
        tokens = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self):
                raise ValueError(f"token id {i} outside the vocabulary of {len(self)} tokens")
            if i == self.eos_id:
                break
            if i not in (self.pad_id, self.bos_id):
                tokens.append(self.itos[i])
        if self.split == "char":
            return "".join(tokens)
        return " ".join(tokens).replace(" - ", "-")

    def batch(self, texts: Sequence[str], *, bos: bool = False, eos: bool = True, max_len: int | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids (B, T) padded with <pad>, lengths (B,)), T the longest sequence in the batch."""
        if isinstance(texts, str) or not len(texts):
            raise ValueError("batch expects a non-empty sequence of strings")
        encoded = [self.encode(t, bos=bos, eos=eos, max_len=max_len) for t in texts]
        lengths = torch.tensor([len(e) for e in encoded])
        ids = torch.full((len(encoded), int(lengths.max())), self.pad_id, dtype=torch.long)
        for row, e in zip(ids, encoded):
            row[: len(e)] = torch.tensor(e)
        return ids, lengths

