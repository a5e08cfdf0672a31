"""The fake ITFlow server and its sample dataset (tests, e2e, benchmarks, the demo).

Names are imported lazily so ``python -m itflow_bridge.sample.fake_itflow`` does
not import the module twice (runpy warns when a package pre-imports it).
"""

from __future__ import annotations

from typing import Any

__all__ = ["FakeITFlow", "RecordedRequest", "SAMPLE_API_KEY", "load_sample_data"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from itflow_bridge.sample import fake_itflow

        return getattr(fake_itflow, name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
