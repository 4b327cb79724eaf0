import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dlnotes import plot  # noqa: E402


def teardown_function():
    plt.close("all")


def test_use_style_is_explicit():
    matplotlib.rcdefaults()
    assert matplotlib.rcParams["axes.spines.top"] is True
    plot.use_style()
    assert matplotlib.rcParams["axes.spines.top"] is False
    assert matplotlib.rcParams["figure.dpi"] == 100
    matplotlib.rcdefaults()


def test_plot_history_draws_one_line_per_key():
    ax = plot.plot_history({"train_loss": [3, 2, 1], "val_loss": [3, 2.5, 2], "lr": [1, 1, 1]})
    assert [line.get_label() for line in ax.get_lines()] == ["train_loss", "val_loss"]
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2, 3]
    with pytest.raises(KeyError, match="val_acc"):
        plot.plot_history({"train_loss": [1]}, keys=["val_acc"])


def test_plot_lines_and_contour():
    x = torch.linspace(0, 1, 5)
    ax = plot.plot_lines(x, {"x": x, "x^2": x**2}, logy=False)
    assert len(ax.get_lines()) == 2
    with pytest.raises(ValueError, match="shape"):
        plot.plot_lines(x, {"bad": x[:3]})
    path = torch.tensor([[1.0, 1.0], [0.5, 0.5], [0.0, 0.0]])
    ax = plot.plot_contour(lambda p: (p**2).sum(1), xlim=(-1, 1), ylim=(-1, 1), paths={"gd": path}, resolution=20)
    assert len(ax.get_lines()) == 1
    with pytest.raises(ValueError, match=r"\(steps, 2\)"):
        plot.plot_contour(lambda p: (p**2).sum(1), xlim=(-1, 1), ylim=(-1, 1), paths={"bad": torch.zeros(3)})


def test_show_images():
    fig = plot.show_images(torch.rand(10, 3, 8, 8), labels=[str(i) for i in range(10)], ncols=5)
    assert len(fig.axes) == 10
    fig = plot.show_images(torch.rand(3, 1, 8, 8))
    assert len(fig.axes) == 3
    with pytest.raises(ValueError, match="1 or 3 channels"):
        plot.show_images(torch.rand(2, 2, 8, 8))
    with pytest.raises(ValueError, match="labels"):
        plot.show_images(torch.rand(2, 3, 8, 8), labels=["a"])


def test_bilingual_text_falls_back_to_english_without_a_cjk_font(monkeypatch):
    import matplotlib as mpl

    monkeypatch.setitem(mpl.rcParams, "font.sans-serif", ["DejaVu Sans"])
    assert plot.bilingual("损失", "loss") == "loss"
    monkeypatch.setitem(mpl.rcParams, "font.sans-serif", ["DejaVu Sans", "Noto Sans CJK JP"])
    assert plot.bilingual("损失", "loss") == "损失 · loss"


def test_use_style_finds_a_cjk_font_when_one_is_installed():
    import matplotlib as mpl

    font = plot.cjk_font()
    if font is None:
        pytest.skip("no CJK font installed here (Debian: fonts-noto-cjk, which make test installs)")
    with mpl.rc_context():
        plot.use_style()
        assert font in mpl.rcParams["font.sans-serif"]
        assert "·" in plot.bilingual("损失", "loss")


def test_chinese_figure_text_is_drawn_without_missing_glyphs():
    import warnings

    import matplotlib as mpl

    if plot.cjk_font() is None:
        pytest.skip("no CJK font installed here (Debian: fonts-noto-cjk, which make test installs)")
    with mpl.rc_context():
        plot.use_style()
        fig, ax = plt.subplots()
        ax.set_title(plot.bilingual("行与列", "rows and columns"))
        with warnings.catch_warnings():
            warnings.simplefilter("error")        # "Glyph ... missing from font(s)" would be raised here
            fig.canvas.draw()
