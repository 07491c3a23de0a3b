"""User-facing errors: one clear paragraph, no traceback."""

from __future__ import annotations

import textwrap


class ArtworksError(Exception):
    """A problem the user can fix; its message says what is wrong and what to do."""

    def render(self) -> str:
        return "\n".join(textwrap.fill(p, width=100) for p in str(self).split("\n\n"))
