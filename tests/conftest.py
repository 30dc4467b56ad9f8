"""Settings shared by every test directory."""

from __future__ import annotations

import os

from hypothesis import settings

# In CI the property tests draw the same examples on every run, so a red build always reproduces.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
    settings.load_profile("ci")
