"""Serve a pinned MathJax 3 from the book itself, so that math renders with no network.

Two steps:

* fetch (``python _ext/offline_mathjax.py``, run by ``make install``, hence by ``make book``,
  ``make test`` and ``.ci/run``): ``npm pack mathjax@VERSION`` from the npm registry into a cache
  folder, checked against the registry's sha512 (``npm view mathjax@VERSION dist.integrity``);
* copy (this Sphinx extension, at every HTML build): unpack from that tarball, after checking it again,
  the files the CommonHTML output needs into ``<build>/_static/mathjax/``: the combined
  ``tex-mml-chtml.js``, the TeX and MathML extensions it loads on demand, the woff-v2 fonts, and the
  menu / accessibility components. ``_config.yml`` sets ``mathjax_path: mathjax/tex-mml-chtml.js``
  (relative to ``_static``). When the tarball is not cached yet, the build fetches it itself.

The files are not put in the book's own ``_static/`` folder: Jupyter Book links every ``.js`` file
found there into every page.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from sphinx.errors import ExtensionError

VERSION = "3.2.2"
INTEGRITY = "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
MATHJAX_PATH = "mathjax/tex-mml-chtml.js"  # relative to _static, as Sphinx's mathjax_path
# Paths under the package's es5/ folder that the book serves (a folder is copied whole).
NEEDED = ["tex-mml-chtml.js", "input/tex/extensions", "input/mml", "output/chtml/fonts/woff-v2",
          "a11y", "ui", "sre"]
CACHE = Path(os.environ.get("DLNOTES_CACHE", Path.home() / ".cache" / "dlnotes")) / "npm"
TARBALL = CACHE / f"mathjax-{VERSION}.tgz"


class MathJaxError(ExtensionError):
    pass


def integrity(path: Path) -> str:
    """npm's integrity string (sha512, base64) of a file."""
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def fetch() -> Path:
    """The checked tarball of mathjax@VERSION: from the cache, or from the npm registry with `npm pack`."""
    if not TARBALL.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise MathJaxError(f"npm is needed once to fetch mathjax@{VERSION} into {CACHE} "
                               "(Debian: apt-get install npm)")
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            subprocess.run([npm, "pack", f"mathjax@{VERSION}", "--silent", "--pack-destination", tmp],
                           check=True, stdout=subprocess.DEVNULL)
            (Path(tmp) / TARBALL.name).replace(TARBALL)
    if (got := integrity(TARBALL)) != INTEGRITY:
        TARBALL.unlink()
        raise MathJaxError(f"{TARBALL} had checksum {got}, not the registry's {INTEGRITY}; removed it")
    return TARBALL


def unpack(target: Path) -> Path:
    """Put the needed files of the checked tarball into `target` (…/_static/mathjax); return it."""
    stamp = target / ".mathjax-integrity"
    if stamp.exists() and stamp.read_text().strip() == INTEGRITY and (target / NEEDED[0]).exists():
        return target
    tarball = fetch()
    prefixes = tuple(f"package/es5/{p}" for p in NEEDED)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp, tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers()
                   if m.isfile() and any(m.name == p or m.name.startswith(p + "/") for p in prefixes)]
        tar.extractall(tmp, members=members, filter="data")
        staged = Path(tmp) / "package" / "es5"
        (staged / stamp.name).write_text(INTEGRITY + "\n")
        shutil.rmtree(target, ignore_errors=True)
        staged.replace(target)
    return target


def _copy_into_build(app) -> None:
    if app.builder.format != "html":
        return
    if app.config.mathjax_path != MATHJAX_PATH:
        raise MathJaxError(f"_config.yml must set mathjax_path: {MATHJAX_PATH} (found {app.config.mathjax_path!r})")
    unpack(Path(app.outdir) / "_static" / "mathjax")


def setup(app):
    app.connect("builder-inited", _copy_into_build)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": VERSION}


if __name__ == "__main__":
    try:
        path = fetch()
    except MathJaxError as error:
        sys.exit(f"offline_mathjax: {error}")
    print(f"mathjax@{VERSION} from npm, checked ({INTEGRITY[:20]}...): {path}")
