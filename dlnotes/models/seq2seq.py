"""Encoder-decoder for sequence-to-sequence tasks (Sutskever et al. 2014; Cho et al. 2014), with optional
additive attention (Bahdanau et al. 2015), teacher forcing, greedy decoding and beam search.

Shapes: src (B, S) token ids padded with 0, src_lengths (B,), tgt_in (B, T) = <bos> + target.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from dlnotes.data.tokenizer import BOS_ID, EOS_ID, PAD_ID


def check_batch(src: Tensor, src_lengths: Tensor, tgt_in: Tensor | None = None) -> None:
    """Clear errors for token batches whose shapes or lengths do not fit together."""
    if not isinstance(src, Tensor) or src.dim() != 2 or src.dtype != torch.long:
        raise ValueError(f"src must be a LongTensor of token ids (B, S), got "
                         f"{tuple(src.shape) if isinstance(src, Tensor) else type(src).__name__}"
                         f"{' ' + str(src.dtype) if isinstance(src, Tensor) else ''}")
    if not isinstance(src_lengths, Tensor) or src_lengths.shape != (src.shape[0],):
        got = tuple(src_lengths.shape) if isinstance(src_lengths, Tensor) else type(src_lengths).__name__
        raise ValueError(f"src_lengths must have shape ({src.shape[0]},), one length per sequence, got {got}")
    if src_lengths.min() < 1 or src_lengths.max() > src.shape[1]:
        raise ValueError(f"src_lengths must lie in [1, {src.shape[1]}] (the padded length), got "
                         f"{src_lengths.min().item()}..{src_lengths.max().item()}")
    if tgt_in is not None and (tgt_in.dim() != 2 or tgt_in.shape[0] != src.shape[0] or tgt_in.dtype != torch.long):
        raise ValueError(f"tgt_in must be a LongTensor ({src.shape[0]}, T) matching the batch of src, "
                         f"got {tuple(tgt_in.shape)} {tgt_in.dtype}")


class Encoder(nn.Module):
    """Embedding and a bidirectional GRU; packed, so padding never enters the state."""

    def __init__(self, vocab_size: int, *, emb_dim: int, hidden_size: int, dec_hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, emb_dim, padding_idx=PAD_ID)
        self.rnn = nn.GRU(emb_dim, hidden_size, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden_size, dec_hidden)   # both directions' last states -> decoder's h0

    def forward(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, Tensor]:
        packed = pack_padded_sequence(self.embed(src), src_lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, h_n = self.rnn(packed)                        # h_n (2, B, H): forward and backward
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.shape[1])  # (B, S, 2H)
        h0 = torch.tanh(self.bridge(torch.cat([h_n[0], h_n[1]], dim=1)))                       # (B, H_dec)
        return outputs, h0


class AdditiveAttention(nn.Module):
    """Bahdanau's score v^T tanh(W_q s + W_k h_j), softmax over the valid source positions."""

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int) -> None:
        super().__init__()
        self.W_q = nn.Linear(query_dim, attn_dim, bias=False)
        self.W_k = nn.Linear(key_dim, attn_dim, bias=False)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        # query (B, Hq), keys (B, S, Hk), mask (B, S) True where a real token is
        scores = self.v(torch.tanh(self.W_q(query)[:, None] + self.W_k(keys))).squeeze(-1)   # (B, S)
        weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=1)                    # (B, S)
        context = (weights[:, :, None] * keys).sum(dim=1)                                     # (B, Hk)
        return context, weights


class Decoder(nn.Module):
    """A GRU that reads the previous token and a context vector each step: the encoder's summary
    (plain, as in Cho et al.) or an attention-weighted sum of the encoder's outputs (Bahdanau)."""

    def __init__(self, vocab_size: int, *, emb_dim: int, hidden_size: int, enc_dim: int, attention: bool) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, emb_dim, padding_idx=PAD_ID)
        self.attention = AdditiveAttention(hidden_size, enc_dim, hidden_size) if attention else None
        self.summary = None if attention else nn.Linear(hidden_size, enc_dim)
        self.cell = nn.GRUCell(emb_dim + enc_dim, hidden_size)
        self.out = nn.Linear(hidden_size + enc_dim + emb_dim, vocab_size)

    def step(self, y_prev: Tensor, h: Tensor, enc_out: Tensor, mask: Tensor, h0: Tensor):
        """One decoding step: (B,) previous tokens, (B, H) state -> logits (B, V), new state, weights (B, S)."""
        e = self.embed(y_prev)                                            # (B, E)
        if self.attention is not None:
            context, weights = self.attention(h, enc_out, mask)          # look at the source again
        else:
            context, weights = torch.tanh(self.summary(h0)), None        # one fixed vector for all steps
        h = self.cell(torch.cat([e, context], dim=1), h)                  # (B, H)
        logits = self.out(torch.cat([h, context, e], dim=1))              # (B, V)
        return logits, h, weights


class Seq2Seq(nn.Module):
    """Encoder-decoder with or without attention; ``forward`` is teacher forcing, the rest decodes."""

    def __init__(self, src_vocab: int, tgt_vocab: int, *, emb_dim: int = 64, hidden_size: int = 128,
                 attention: bool = True) -> None:
        super().__init__()
        self.encoder = Encoder(src_vocab, emb_dim=emb_dim, hidden_size=hidden_size, dec_hidden=hidden_size)
        self.decoder = Decoder(tgt_vocab, emb_dim=emb_dim, hidden_size=hidden_size, enc_dim=2 * hidden_size,
                               attention=attention)

    def encode(self, src: Tensor, src_lengths: Tensor):
        enc_out, h0 = self.encoder(src, src_lengths)
        mask = torch.arange(src.shape[1], device=src.device)[None] < src_lengths.to(src.device)[:, None]  # (B, S)
        return enc_out, h0, mask

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor) -> Tensor:
        """Teacher forcing: the decoder reads the true previous token. Returns logits (B, T, V)."""
        check_batch(src, src_lengths, tgt_in)
        enc_out, h0, mask = self.encode(src, src_lengths)
        h, logits = h0, []
        for t in range(tgt_in.shape[1]):
            step_logits, h, _ = self.decoder.step(tgt_in[:, t], h, enc_out, mask, h0)
            logits.append(step_logits)
        return torch.stack(logits, dim=1)

    @torch.no_grad()
    def greedy(self, src: Tensor, src_lengths: Tensor, *, max_len: int) -> tuple[list[list[int]], Tensor | None]:
        """The most likely token at each step. Returns token lists (without <eos>) and, with attention,
        the weights (B, steps, S)."""
        check_batch(src, src_lengths)
        enc_out, h0, mask = self.encode(src, src_lengths)
        h, y = h0, torch.full((src.shape[0],), BOS_ID, device=src.device)
        tokens, weights = [], []
        for _ in range(max_len):
            logits, h, w = self.decoder.step(y, h, enc_out, mask, h0)
            y = logits.argmax(dim=1)
            tokens.append(y)
            if w is not None:
                weights.append(w)
            if (torch.stack(tokens, 1) == EOS_ID).any(1).all():
                break
        return _cut_at_eos(torch.stack(tokens, 1)), (torch.stack(weights, 1) if weights else None)

    @torch.no_grad()
    def beam_search(self, src: Tensor, src_lengths: Tensor, *, beam: int, max_len: int) -> list[list[int]]:
        """Keep the `beam` most likely partial outputs (sum of log-probabilities) at every step; a
        hypothesis ends at <eos>. beam=1 is greedy decoding."""
        check_batch(src, src_lengths)
        if not isinstance(beam, int) or beam < 1:
            raise ValueError(f"beam must be a positive int, got {beam!r}")
        results = []
        for i in range(src.shape[0]):                                  # one source sentence at a time
            enc_out, h0, mask = self.encode(src[i : i + 1], src_lengths[i : i + 1])
            alive = [(0.0, [], h0)]                                    # (log-probability, tokens, state (1, H))
            finished: list[tuple[float, list[int]]] = []
            for _ in range(max_len):
                k = len(alive)
                y = torch.tensor([tokens[-1] if tokens else BOS_ID for _, tokens, _ in alive], device=src.device)
                h = torch.cat([state for _, _, state in alive])                                      # (k, H)
                logits, h, _ = self.decoder.step(y, h, enc_out.expand(k, -1, -1), mask.expand(k, -1),
                                                 h0.expand(k, -1))
                scores = torch.tensor([lp for lp, _, _ in alive], device=src.device)[:, None] + logits.log_softmax(1)
                top, flat = scores.flatten().topk(min(beam, scores.numel()))   # best continuations of all beams
                candidates = []
                for score, index in zip(top.tolist(), flat.tolist()):
                    parent, token = divmod(index, logits.shape[1])
                    tokens = alive[parent][1] + [token]
                    if token == EOS_ID:
                        finished.append((score, tokens[:-1]))
                    else:
                        candidates.append((score, tokens, h[parent : parent + 1]))
                alive = candidates
                # a log-probability only falls as tokens are added: stop once no live beam can win
                if not alive or (finished and max(f[0] for f in finished) >= max(a[0] for a in alive)):
                    break
            best = max(finished or [(score, tokens) for score, tokens, _ in alive], key=lambda f: f[0])
            results.append(best[1])
        return results


def _cut_at_eos(ids: Tensor) -> list[list[int]]:
    out = []
    for row in ids.tolist():
        out.append(row[: row.index(EOS_ID)] if EOS_ID in row else row)
    return out
