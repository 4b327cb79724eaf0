"""The book's translation task: numbers and dates written out in English and in Chinese.

1024 -> "one thousand and twenty-four" <-> "一千零二十四"; 2024-03-07 -> "7 March 2024" <-> "2024年3月7日".
The rules are written out (and inverted, so the tests can check every number round-trips), and the
pairs are drawn from a seed, with training and test numbers disjoint.
"""

from __future__ import annotations

import datetime
import random

MAX_NUMBER = 10**8  # below 一亿: the Chinese side needs only 万 as a group unit

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ZH_DIGITS = "零一二三四五六七八九"
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]


def _check_number(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n < MAX_NUMBER:
        raise ValueError(f"expected an int in [0, {MAX_NUMBER:,}), got {n!r}")


def _english_below_100(n: int) -> str:
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")


def _english_below_1000(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    if not hundreds:
        return _english_below_100(rest)
    return f"{_ONES[hundreds]} hundred" + (f" and {_english_below_100(rest)}" if rest else "")


def number_to_english(n: int) -> str:
    """British English: 1024 -> 'one thousand and twenty-four', 1234 -> 'one thousand two hundred and thirty-four'."""
    _check_number(n)
    if n == 0:
        return "zero"
    millions, thousands, rest = n // 10**6, n // 1000 % 1000, n % 1000
    words = []
    if millions:
        words.append(f"{_english_below_1000(millions)} million")
    if thousands:
        words.append(f"{_english_below_1000(thousands)} thousand")
    if rest:
        # 'and' joins a last part below 100 to what stands before it: 'one thousand and five'
        words.append(("and " if words and rest < 100 else "") + _english_below_1000(rest))
    return " ".join(words)


def _chinese_group(n: int, *, leading: bool) -> str:
    """0 < n < 10000 read with 千百十; an inner gap reads 零 once; a leading 一十 is just 十 (十五, not 一十五)."""
    out, started, gap = "", False, False
    for digit, unit in zip((n // 1000, n // 100 % 10, n // 10 % 10, n % 10), "千百十 "):
        unit = unit.strip()
        if digit == 0:
            gap = gap or started
            continue
        if gap:
            out, gap = out + "零", False
        out += unit if (unit == "十" and digit == 1 and leading and not started) else _ZH_DIGITS[digit] + unit
        started = True
    return out


def number_to_chinese(n: int) -> str:
    """Standard Chinese numerals: 1024 -> '一千零二十四', 10 -> '十', 110 -> '一百一十', 10010 -> '一万零一十'."""
    _check_number(n)
    if n == 0:
        return "零"
    high, low = divmod(n, 10000)
    if not high:
        return _chinese_group(low, leading=True)
    text = _chinese_group(high, leading=True) + "万"
    if low:
        text += ("零" if low < 1000 else "") + _chinese_group(low, leading=False)
    return text


def english_to_number(text: str) -> int:
    """Inverse of number_to_english (raises ValueError on a word it does not know)."""
    value = {w: i for i, w in enumerate(_ONES)} | {w: 10 * i for i, w in enumerate(_TENS) if w}
    total = group = 0
    for word in text.replace("-", " ").split():
        if word == "and":
            continue
        if word in value:
            group += value[word]
        elif word == "hundred":
            group *= 100
        elif word in ("thousand", "million"):
            total += group * (1000 if word == "thousand" else 10**6)
            group = 0
        else:
            raise ValueError(f"unknown number word {word!r} in {text!r}")
    return total + group


def chinese_to_number(text: str) -> int:
    """Inverse of number_to_chinese (raises ValueError on a character it does not know)."""
    def group(part: str) -> int:
        total, digit = 0, None
        for ch in part:
            if ch in _ZH_DIGITS:
                digit = _ZH_DIGITS.index(ch)
            elif ch in "十百千":
                total += (1 if digit is None else digit) * 10 ** ("十百千".index(ch) + 1)
                digit = None
            else:
                raise ValueError(f"unknown numeral {ch!r} in {text!r}")
        return total + (digit or 0)

    high, _, low = text.rpartition("万")
    return group(high) * 10000 + group(low) if "万" in text else group(text)


def format_date(date: datetime.date, style: str) -> str:
    """'iso' -> '2024-03-07', 'en' -> '7 March 2024', 'zh' -> '2024年3月7日'."""
    if not isinstance(date, datetime.date):
        raise ValueError(f"expected a datetime.date, got {type(date).__name__}")
    if style == "iso":
        return date.isoformat()
    if style == "en":
        return f"{date.day} {_MONTHS[date.month - 1]} {date.year}"
    if style == "zh":
        return f"{date.year}年{date.month}月{date.day}日"
    raise ValueError(f"unknown date style {style!r}; expected 'iso', 'en' or 'zh'")


NUMBER_LANGS = {"en": number_to_english, "zh": number_to_chinese, "digits": str}


def sample_numbers(n: int, *, max_digits: int = 8, seed: int = 0, exclude: set[int] | frozenset[int] = frozenset()
                   ) -> list[int]:
    """n distinct numbers: a digit count uniform in 1..max_digits, then a value uniform among those numbers."""
    if not isinstance(max_digits, int) or not 1 <= max_digits <= 8:
        raise ValueError(f"max_digits must be an int in 1..8, got {max_digits!r}")
    available = 10**max_digits - len(exclude)
    if not isinstance(n, int) or not 0 <= n <= available // 2:
        raise ValueError(f"n must be an int in [0, {available // 2}] for max_digits={max_digits}, got {n!r}")
    rng, chosen = random.Random(seed), set()
    while len(chosen) < n:
        digits = rng.randint(1, max_digits)
        value = rng.randrange(0 if digits == 1 else 10 ** (digits - 1), 10**digits)
        if value not in exclude:
            chosen.add(value)
    return rng.sample(sorted(chosen), n)   # a seeded order, independent of set iteration order


def number_pairs(numbers: list[int], *, src: str = "en", tgt: str = "zh") -> list[tuple[str, str]]:
    """(source text, target text) for each number; languages are 'en', 'zh' or 'digits'."""
    for lang in (src, tgt):
        if lang not in NUMBER_LANGS:
            raise ValueError(f"unknown language {lang!r}; expected one of {sorted(NUMBER_LANGS)}")
    return [(NUMBER_LANGS[src](v), NUMBER_LANGS[tgt](v)) for v in numbers]


def number_translation(n_train: int, n_test: int, *, src: str = "en", tgt: str = "zh", max_digits: int = 8,
                       test_digits: int | None = None, seed: int = 0
                       ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Training and test pairs whose numbers never overlap. ``test_digits`` draws the test numbers with
    exactly that many digits (e.g. the longest inputs), else like the training numbers."""
    train_numbers = sample_numbers(n_train, max_digits=max_digits, seed=2 * seed)
    if test_digits is None:
        test_numbers = sample_numbers(n_test, max_digits=max_digits, seed=2 * seed + 1, exclude=set(train_numbers))
    else:
        if not isinstance(test_digits, int) or not 1 <= test_digits <= 8:
            raise ValueError(f"test_digits must be an int in 1..8, got {test_digits!r}")
        rng, pool = random.Random(2 * seed + 1), set(train_numbers)
        low = 0 if test_digits == 1 else 10 ** (test_digits - 1)
        if n_test > (10**test_digits - low) // 2:
            raise ValueError(f"n_test={n_test} is too many distinct {test_digits}-digit numbers")
        test_numbers = []
        while len(test_numbers) < n_test:
            value = rng.randrange(low, 10**test_digits)
            if value not in pool:
                pool.add(value)
                test_numbers.append(value)
    return number_pairs(train_numbers, src=src, tgt=tgt), number_pairs(test_numbers, src=src, tgt=tgt)


def date_pairs(n: int, *, src: str = "en", tgt: str = "zh", years: tuple[int, int] = (1900, 2099), seed: int = 0
               ) -> list[tuple[str, str]]:
    """n random dates (uniform over the days of the years given) as (source, target) in the given styles."""
    start, end = datetime.date(years[0], 1, 1), datetime.date(years[1], 12, 31)
    rng = random.Random(seed)
    days = [start + datetime.timedelta(days=rng.randrange((end - start).days + 1)) for _ in range(n)]
    return [(format_date(d, src), format_date(d, tgt)) for d in days]
