"""The fake ITFlow and its sample dataset (tests, e2e, benchmarks, the demo).

One concern per module: ``php.py`` (PHP and MySQL semantics), ``wire.py``
(request and reply values), ``legacy_api.py`` (``/api.php``), ``json_api.py``
(v1 key check and reads), ``schema.py`` (ITFlow 26.08's tables and seeded
rows), ``fake_itflow.py`` (the HTTP server, dataset and request log; tests plug
ITFlow's v1 writes into it) and
``__main__.py`` (``python -m itflow_bridge.sample``).
``simulated_asterisk.py`` plays Asterisk's side of a FastAGI call.

Names are imported lazily, so importing the package (the demo's
``simulated_asterisk``) does not load the HTTP server.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FakeITFlow", "RecordedRequest", "SAMPLE_API_KEY", "load_sample_data"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from itflow_bridge.sample import fake_itflow

        return getattr(fake_itflow, name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
