"""pytest plugin for mutation runs only (``[tool.mutmut] pytest_add_cli_args``): Lightning's hyperparameters.

mutmut 3 moves every mutated method into a copy named ``xǁ<Class>ǁ<method>__mutmut_<n>`` (``..._orig`` for
the unchanged code) called through a trampoline. ``LightningModule.save_hyperparameters`` finds the
constructor's arguments by walking the call stack and takes only frames whose code is named ``__init__``,
so under mutmut ``ArtistClassifier.__init__`` saved no hyperparameters and every test that reads
``module.hparams`` failed before any mutant was tried. This plugin lets Lightning accept the renamed copies
of ``__init__`` as well; outside a mutation run it is not loaded and nothing changes.
"""

from __future__ import annotations

import re
import types
from typing import Any

from lightning.pytorch.utilities import parsing

_MUTATED_INIT = re.compile(r"ǁ__init____mutmut_(?:orig|\d+)$")
_original = parsing._get_init_args


def _get_init_args(frame: types.FrameType) -> tuple[Any, dict[str, Any]]:
    if _MUTATED_INIT.search(frame.f_code.co_name):
        # the same frame as Lightning sees it when mutmut is not there: its code named ``__init__``
        renamed = frame.f_code.replace(co_name="__init__")
        frame = types.SimpleNamespace(f_code=renamed, f_locals=frame.f_locals, f_back=frame.f_back)
    return _original(frame)


def pytest_configure(config: Any) -> None:
    parsing._get_init_args = _get_init_args
