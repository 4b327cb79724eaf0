"""Training and evaluating a Seq2Seq model on (source text, target text) pairs: a loop you can read in one
screen (teacher forcing, cross-entropy over the target tokens, gradient clipping) and exact-match accuracy."""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dlnotes.data.tokenizer import Vocab
from dlnotes.models.seq2seq import Seq2Seq
from dlnotes.train import _quiet

Pairs = Sequence[tuple[str, str]]


def encode_pairs(pairs: Pairs, src_vocab: Vocab, tgt_vocab: Vocab):
    """(src (B, S), src_lengths (B,), tgt_in (B, T) = <bos> + target, tgt_out (B, T) = target + <eos>)."""
    src, src_lengths = src_vocab.batch([s for s, _ in pairs])
    tgt, _ = tgt_vocab.batch([t for _, t in pairs], bos=True)      # <bos> target <eos> <pad>...
    return src, src_lengths, tgt[:, :-1], tgt[:, 1:]


def train_seq2seq(model: Seq2Seq, pairs: Pairs, src_vocab: Vocab, tgt_vocab: Vocab, *, steps: int,
                  batch_size: int = 64, lr: float = 3e-3, clip: float = 1.0, seed: int = 0,
                  log_every: int = 100) -> dict[str, list[float]]:
    """Adam with teacher forcing for `steps` mini-batches; returns {'step': [...], 'train_loss': [...]}."""
    if len(pairs) < batch_size:
        raise ValueError(f"need at least batch_size={batch_size} pairs, got {len(pairs)}")
    rng = random.Random(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    history: dict[str, list[float]] = {"step": [], "train_loss": []}
    running = 0.0
    device = next(model.parameters()).device
    model.train()
    for step in range(1, steps + 1):
        batch = encode_pairs(rng.sample(list(pairs), batch_size), src_vocab, tgt_vocab)
        src, src_lengths, tgt_in, tgt_out = (t.to(device) for t in batch)            # on the model's device
        logits = model(src, src_lengths, tgt_in)                                     # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=tgt_vocab.pad_id)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)    # keeps rare huge gradients from derailing it
        optimizer.step()
        schedule.step()
        running += loss.item()
        if step % log_every == 0 or step == steps:
            n = log_every if step % log_every == 0 else step % log_every
            history["step"].append(step)
            history["train_loss"].append(running / n)
            running = 0.0
            if not _quiet():
                print(f"step {step:5d}  loss {history['train_loss'][-1]:.4f}")
    model.eval()
    return history


@torch.no_grad()
def translate(model: Seq2Seq, texts: Sequence[str], src_vocab: Vocab, tgt_vocab: Vocab, *, beam: int = 1,
              max_len: int = 40, batch_size: int = 500) -> list[str]:
    """Decoded target texts (greedy for beam=1, else beam search)."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(texts), batch_size):
        src, src_lengths = (t.to(device) for t in src_vocab.batch(texts[i : i + batch_size]))
        if beam == 1:
            ids, _ = model.greedy(src, src_lengths, max_len=max_len)
        else:
            ids = model.beam_search(src, src_lengths, beam=beam, max_len=max_len)
        out += [tgt_vocab.decode(row) for row in ids]
    return out


def exact_match(model: Seq2Seq, pairs: Pairs, src_vocab: Vocab, tgt_vocab: Vocab, **kwargs) -> float:
    """Fraction of pairs whose whole decoded output equals the target."""
    predictions = translate(model, [s for s, _ in pairs], src_vocab, tgt_vocab, **kwargs)
    return sum(p == t for p, (_, t) in zip(predictions, pairs)) / len(pairs)
