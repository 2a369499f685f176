"""The performance suite: a seeded synthetic world at three scales (``world``), bulk-loaded
straight into the database (``bulk``), and the measurements taken through the real services
on top of it (``measure``), run and reported by ``runner`` (``stewardship bench``).

This package lives beside ``src/``, not inside the installed ``stewardship`` package: it is
developer tooling, run from a checkout (the CLI's ``bench`` command finds it there)."""
