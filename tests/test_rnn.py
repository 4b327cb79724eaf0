"""From-scratch recurrent cells equal PyTorch's; the seq2seq model's decoders agree; bad input is explained."""

import pytest
import torch
from torch import nn

from dlnotes.models import rnn, seq2seq

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("kind, cell", [("rnn", rnn.RNNCell), ("lstm", rnn.LSTMCell), ("gru", rnn.GRUCell)])
def test_scratch_cells_equal_pytorch_with_copied_weights(kind, cell):
    torch.manual_seed(0)
    reference = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](3, 5, batch_first=True)
    ours = rnn.Recurrent(cell(3, 5).load_from(reference))
    X = torch.randn(4, 7, 3)
    out_ref, state_ref = reference(X)
    out, state = ours(X)
    torch.testing.assert_close(out, out_ref)
    if kind == "lstm":
        torch.testing.assert_close(state[0], state_ref[0][0])
        torch.testing.assert_close(state[1], state_ref[1][0])
    else:
        torch.testing.assert_close(state, state_ref[0])


def test_the_papers_gru_is_a_different_function_from_nn_gru():
    torch.manual_seed(0)
    reference = nn.GRU(3, 5, batch_first=True)
    paper = rnn.Recurrent(rnn.GRUCell(3, 5, reset_after=False).load_from(reference))
    X = torch.randn(4, 7, 3)
    difference = (paper(X)[0] - reference(X)[0]).abs().max()
    assert difference > 1e-3, "the reset gate's place changes the output"


def test_cells_reject_bad_input_clearly():
    cell = rnn.Recurrent(rnn.LSTMCell(3, 5))
    with pytest.raises(ValueError, match=r"add the batch dimension"):
        cell(torch.randn(7, 3))
    with pytest.raises(ValueError, match=r"expects 3 features per step"):
        cell(torch.randn(2, 7, 4))
    with pytest.raises(ValueError, match="floating-point"):
        cell(torch.ones(2, 7, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="does not match"):
        rnn.LSTMCell(3, 5).load_from(nn.LSTM(3, 6))
    with pytest.raises(ValueError, match="kind must be"):
        rnn.SequenceRegressor("transformer", input_size=2, hidden_size=4)
    assert rnn.SequenceRegressor("lstm", input_size=2, hidden_size=4)(torch.randn(3, 9, 2)).shape == (3,)


@pytest.fixture
def model_and_batch():
    torch.manual_seed(0)
    model = seq2seq.Seq2Seq(20, 15, emb_dim=8, hidden_size=16).eval()
    src = torch.randint(3, 20, (5, 7))
    lengths = torch.tensor([7, 3, 5, 1, 6])
    src[torch.arange(7)[None] >= lengths[:, None]] = 0
    return model, src, lengths


def test_beam_of_one_is_greedy_and_wider_beams_score_at_least_as_well(model_and_batch):
    model, src, lengths = model_and_batch
    greedy, weights = model.greedy(src, lengths, max_len=9)
    assert model.beam_search(src, lengths, beam=1, max_len=9) == greedy
    assert weights.shape[0] == 5 and weights.shape[2] == 7
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:2]))
    assert (weights[1, :, 3:] == 0).all(), "no attention on padding"


def test_padding_does_not_change_the_result(model_and_batch):
    model, src, lengths = model_and_batch
    wider = torch.cat([src, torch.zeros(5, 4, dtype=torch.long)], dim=1)
    tgt = torch.randint(3, 15, (5, 4))
    torch.testing.assert_close(model(src, lengths, tgt), model(wider, lengths, tgt))


def test_seq2seq_rejects_mismatched_batches(model_and_batch):
    model, src, lengths = model_and_batch
    with pytest.raises(ValueError, match=r"src_lengths must have shape \(5,\)"):
        model(src, lengths[:3], torch.zeros(5, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"must lie in \[1, 7\]"):
        model.greedy(src, lengths + 1, max_len=3)
    with pytest.raises(ValueError, match="LongTensor of token ids"):
        model.greedy(src.float(), lengths, max_len=3)
    with pytest.raises(ValueError, match="tgt_in must be"):
        model(src, lengths, torch.zeros(4, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="beam must be"):
        model.beam_search(src, lengths, beam=0, max_len=3)
