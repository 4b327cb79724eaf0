"""dlnotes: the small helper package behind the dlnotes book.

Importing it has no side effects: seeding and plot style are explicit calls
(`dlnotes.utils.set_seed`, `dlnotes.plot.use_style`).
"""

__version__ = "0.1.0"
