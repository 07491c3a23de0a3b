"""Running a command's ``main()`` in this process, and what its error output must look like."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest
from hydra.core.global_hydra import GlobalHydra


def run_main(
    main: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    *args: str,
    full_error: str | None = None,
) -> tuple[int, str]:
    """``python -m <command> ARGS`` in this process: (exit status, stderr); 0 when it ends normally.

    ``full_error``: the value of ``HYDRA_FULL_ERROR`` in the environment (``None``: not set).
    """
    GlobalHydra.instance().clear()
    monkeypatch.setattr(sys, "argv", ["artworks", *args])
    if full_error is None:
        monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    else:
        monkeypatch.setenv("HYDRA_FULL_ERROR", full_error)
    try:
        main()
        code = 0
    except SystemExit as exit_info:
        code = exit_info.code
    finally:
        GlobalHydra.instance().clear()
    return code, capsys.readouterr().err


def assert_one_paragraph(stderr: str, *phrases: str) -> None:
    """No traceback, and one ``artworks:`` paragraph with ``phrases`` (progress bars may come before it)."""
    assert "Traceback" not in stderr, stderr
    assert ("\n" + stderr).count("\nartworks: ") == 1, stderr
    for phrase in phrases:
        assert phrase in " ".join(stderr.split()), (phrase, stderr)
