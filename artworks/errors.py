"""User-facing errors: one clear paragraph, no traceback.

:class:`ArtworksError` is raised for problems the user can fix. :func:`user_message` also turns the
foreseeable failures of other libraries (a config that does not compose, a full disk, an unwritable
folder, GPU out of memory) into such a paragraph; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import os
import textwrap

DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}
OUTPUTS_HINT = "choose another place for outputs with paths.log_dir=DIR (or ARTWORKS_HOME=DIR)"


class ArtworksError(Exception):
    """A problem the user can fix; its message says what is wrong and what to do."""

    def render(self) -> str:
        return "\n".join(fill(p) for p in str(self).split("\n\n"))


def fill(text: str) -> str:
    """Wrap at 100 columns without breaking paths (at hyphens or inside long words)."""
    return textwrap.fill(text, width=100, break_on_hyphens=False, break_long_words=False)


def _chain(error: BaseException) -> list[BaseException]:
    """The error and the errors it was raised from (Hydra and OmegaConf wrap the original)."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _file_in_the_way(err: BaseException) -> bool:
    """A folder was needed where a regular file is: higher up the path (ENOTDIR) or at its place (EEXIST)."""
    if not isinstance(err, OSError):
        return False
    if err.errno == errno.ENOTDIR:
        return True
    return err.errno == errno.EEXIST and bool(err.filename) and os.path.isfile(err.filename)


def user_message(error: BaseException) -> str | None:
    """A one-paragraph explanation for a foreseeable failure, or ``None`` for a bug (show the traceback)."""
    from hydra.errors import CompactHydraException

    chain = _chain(error)
    for err in chain:
        if isinstance(err, ArtworksError):
            return err.render()
    for err in chain:
        if isinstance(err, OSError) and err.errno in DISK_FULL:
            where = f" while writing {err.filename}" if err.filename else ""
            return fill(
                f"The disk is full{where} ({err.strerror}). Free some space or {OUTPUTS_HINT}. Checkpoints "
                "are written whole or not at all, so the last complete one is intact: run the same command "
                "again with resume=auto to continue from it."
            )
        if _file_in_the_way(err):
            return fill(
                f"Cannot use {err.filename or 'the output path'} as a folder: it, or a part of that path, is "
                f"a regular file, not a folder. Choose a path whose parents are folders (hydra.run.dir=DIR, "
                f"output=PATH or --out DIR, whichever you gave) or {OUTPUTS_HINT}."
            )
        if isinstance(err, OSError) and err.errno in NOT_WRITABLE:
            return fill(
                f"Cannot write to {err.filename or 'the output folder'} ({err.strerror}). Make it writable "
                f"or {OUTPUTS_HINT}."
            )
        if type(err).__name__ == "OutOfMemoryError":
            return fill(
                f"Out of memory ({str(err).splitlines()[0]}). Lower data.batch_size (e.g. by half), use a "
                "smaller data.image_size, or trainer.precision=bf16-mixed on a GPU that supports it."
            )
        if isinstance(err, CompactHydraException):
            hydra_message = str(err).split("Config search path")[0].strip()
            return (
                f"The command line does not make a valid config:\n{hydra_message}\n"
                "Options and groups: `python -m artworks.train --help`; the composed config: add `--cfg job`."
            )
    return None


def describe_error(error: BaseException) -> str:
    """One line saying why something failed, for lists of failed jobs."""
    message = user_message(error)
    if message is None:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return f"{type(error).__name__}: {first}" if first else type(error).__name__
    return " ".join(message.split())
