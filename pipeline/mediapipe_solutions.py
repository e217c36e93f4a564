"""MediaPipe's legacy solutions (face detection, Face Mesh), imported without matplotlib.

`import mediapipe` runs `mediapipe.python.solutions`, which imports its drawing helpers, and they
import `matplotlib.pyplot`: most of MediaPipe's import time. Every worker process pays it
as it starts (or restarts after a crash or a freeze, while pages wait), and so does every `wink`
command. The pipeline never draws with them, so `solutions()` puts a stand-in for each of those two
modules in `sys.modules` before importing MediaPipe. The first attribute anyone asks of a stand-in
imports the real module, so nothing that does use them breaks.

(importlib's LazyLoader does not help here: the import system reads `__spec__` of a module already in
`sys.modules`, and that read alone makes a lazy module load.)
"""

from __future__ import annotations

import importlib
import sys
from functools import cache
from types import ModuleType

#: The solutions' submodules that import matplotlib, and that the pipeline never calls.
DRAWING_MODULES = ("drawing_utils", "drawing_styles")
_PACKAGE = "mediapipe.python.solutions"


def _stand_in(name: str) -> ModuleType:
    """A module that imports `name` for real on its first attribute lookup, and answers from that."""
    stand_in = ModuleType(name, f"Stand-in: {name} is imported on first use.")

    def load(attribute: str) -> object:
        if attribute.startswith("__"):  # the import machinery's own probing must not load it
            raise AttributeError(attribute)
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
        return getattr(importlib.import_module(name), attribute)

    stand_in.__dict__["__getattr__"] = load  # PEP 562: a module's __getattr__ answers missing attributes
    return stand_in


@cache
def solutions() -> ModuleType:
    """`mediapipe.solutions`, imported with its drawing helpers left for first use."""
    if "mediapipe" not in sys.modules:
        stand_ins = {short: _stand_in(f"{_PACKAGE}.{short}") for short in DRAWING_MODULES}
        for short, module in stand_ins.items():
            sys.modules.setdefault(f"{_PACKAGE}.{short}", module)
        import mediapipe.python.solutions as package

        for short, module in stand_ins.items():  # so `mp.solutions.drawing_utils` still resolves
            if sys.modules.get(f"{_PACKAGE}.{short}") is module:
                setattr(package, short, module)
    import mediapipe

    return mediapipe.solutions
