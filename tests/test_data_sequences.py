"""Sequence tasks, the numbers-and-dates translation data and the tokenizer."""

import datetime
import random

import pytest
import torch

from dlnotes.data import sequences, translation
from dlnotes.data.tokenizer import Vocab


@pytest.mark.parametrize("n, en, zh", [
    (0, "zero", "零"),
    (7, "seven", "七"),
    (10, "ten", "十"),
    (15, "fifteen", "十五"),
    (20, "twenty", "二十"),
    (105, "one hundred and five", "一百零五"),
    (110, "one hundred and ten", "一百一十"),
    (1000, "one thousand", "一千"),
    (1002, "one thousand and two", "一千零二"),
    (1020, "one thousand and twenty", "一千零二十"),
    (1024, "one thousand and twenty-four", "一千零二十四"),
    (1234, "one thousand two hundred and thirty-four", "一千二百三十四"),
    (10010, "ten thousand and ten", "一万零一十"),
    (10024, "ten thousand and twenty-four", "一万零二十四"),
    (100000, "one hundred thousand", "十万"),
    (110000, "one hundred and ten thousand", "十一万"),
    (1100000, "one million one hundred thousand", "一百一十万"),
    (20030405, "twenty million thirty thousand four hundred and five", "二千零三万零四百零五"),
    (99999999, "ninety-nine million nine hundred and ninety-nine thousand nine hundred and ninety-nine",
     "九千九百九十九万九千九百九十九"),
])
def test_numbers_in_words(n, en, zh):
    assert translation.number_to_english(n) == en
    assert translation.number_to_chinese(n) == zh
    assert translation.english_to_number(en) == n
    assert translation.chinese_to_number(zh) == n


def test_every_small_number_and_random_large_ones_round_trip():
    rng = random.Random(0)
    numbers = list(range(0, 20_000)) + [rng.randrange(translation.MAX_NUMBER) for _ in range(5000)]
    for n in numbers:
        assert translation.english_to_number(translation.number_to_english(n)) == n
        zh = translation.number_to_chinese(n)
        assert translation.chinese_to_number(zh) == n
        assert "零零" not in zh and not zh.endswith("零") or n == 0   # one 零 per gap, none at the end


def test_numbers_out_of_range_and_unknown_words_are_clear_errors():
    for bad in (-1, translation.MAX_NUMBER, 1.5, True, "12"):
        with pytest.raises(ValueError, match=r"\[0, 100,000,000\)"):
            translation.number_to_chinese(bad)
    with pytest.raises(ValueError, match="unknown number word 'fourty'"):
        translation.english_to_number("fourty two")
    with pytest.raises(ValueError, match="unknown numeral"):
        translation.chinese_to_number("一亿")


def test_dates_in_three_formats():
    d = datetime.date(2024, 3, 7)
    assert translation.format_date(d, "iso") == "2024-03-07"
    assert translation.format_date(d, "en") == "7 March 2024"
    assert translation.format_date(d, "zh") == "2024年3月7日"
    with pytest.raises(ValueError, match="unknown date style"):
        translation.format_date(d, "us")
    pairs = translation.date_pairs(50, src="iso", tgt="zh", seed=3)
    assert pairs == translation.date_pairs(50, src="iso", tgt="zh", seed=3)
    for iso, zh in pairs:
        y, m, day = map(int, iso.split("-"))
        assert zh == f"{y}年{m}月{day}日" and 1900 <= y <= 2099


def test_translation_splits_are_seeded_and_disjoint():
    train, test = translation.number_translation(500, 200, seed=1)
    assert len(train) == 500 and len(test) == 200
    assert not {en for en, _ in train} & {en for en, _ in test}
    assert (train, test) == translation.number_translation(500, 200, seed=1)
    assert train != translation.number_translation(500, 200, seed=2)[0]
    for en, zh in train[:50]:
        assert translation.english_to_number(en) == translation.chinese_to_number(zh)
    _, long_test = translation.number_translation(100, 50, test_digits=8, seed=0)
    assert all(translation.chinese_to_number(zh) >= 10**7 for _, zh in long_test)
    with pytest.raises(ValueError, match="unknown language"):
        translation.number_pairs([1], src="fr")


def test_vocab_words_and_characters():
    en = Vocab.build(["one thousand and twenty-four", "five"], split="word")
    assert en.tokenize("twenty-four") == ["twenty", "-", "four"]
    ids = en.encode("one thousand and twenty-four")
    assert ids[-1] == en.eos_id and en.decode(ids) == "one thousand and twenty-four"
    zh = Vocab.build(["一千零二十四"], split="char")
    assert len(zh) == 3 + 6 and zh.decode(zh.encode("二十四", bos=True)) == "二十四"
    X, lengths = zh.batch(["一千", "二十四"], bos=True)
    assert X.shape == (2, 5) and lengths.tolist() == [4, 5] and X[0, -1] == zh.pad_id
    assert zh.decode([zh.stoi["一"], zh.eos_id, zh.stoi["千"]]) == "一", "decoding stops at <eos>"


def test_vocab_rejects_unknown_tokens_and_long_inputs_clearly():
    zh = Vocab.build(["一千零二十四"])
    with pytest.raises(ValueError, match=r"\['万'\] not in the vocabulary"):
        zh.encode("一万")
    with pytest.raises(ValueError, match="more than max_len=3"):
        zh.encode("一千零", max_len=3)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        zh.decode([99])
    with pytest.raises(ValueError, match="split must be"):
        Vocab([], split="bpe")


def test_adding_problem():
    X, y = sequences.adding_problem(1000, 50, seed=0)
    assert X.shape == (1000, 50, 2) and y.shape == (1000,)
    assert (X[..., 1].sum(1) == 2).all(), "exactly two markers"
    assert (X[:, :25, 1].sum(1) == 1).all(), "one marker in each half"
    torch.testing.assert_close((X[..., 0] * X[..., 1]).sum(1), y)
    assert abs(((y - 1.0) ** 2).mean().item() - 1 / 6) < 0.02, "the trivial baseline scores about 1/6"
    with pytest.raises(ValueError, match="length must be an int >= 2"):
        sequences.adding_problem(10, 1)


def test_copy_task_and_sine_waves():
    X, y = sequences.copy_task(4, 5, delay=10, vocab=8, seed=0)
    assert X.shape == y.shape == (4, 20)
    assert torch.equal(X[:, :5], y[:, -5:]) and (X[:, 14] == 1).all() and (y[:, :15] == 0).all()
    assert X[:, :5].min() >= 2 and X[:, :5].max() < 10
    s = sequences.sine_waves(8, 100, noise=0.0, seed=0)
    assert s.shape == (8, 100) and s.abs().max() <= 1.0
    assert torch.equal(s, sequences.sine_waves(8, 100, noise=0.0, seed=0))
    with pytest.raises(ValueError, match="noise"):
        sequences.sine_waves(8, 100, noise=-1)


def test_delayed_recall():
    X, y = sequences.delayed_recall(6, 12, delay=5, vocab=4, seed=0)
    assert X.shape == y.shape == (6, 12) and X.min() >= 0 and X.max() < 4
    assert torch.equal(y[:, 5:], X[:, :-5]) and (y[:, :5] == -100).all()
    assert torch.equal(X, sequences.delayed_recall(6, 12, delay=5, vocab=4, seed=0)[0])
    with pytest.raises(ValueError, match="delay must be < length"):
        sequences.delayed_recall(6, 5, delay=5)
