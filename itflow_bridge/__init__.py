"""itflow-bridge: caller-ID names and spoken balances from ITFlow for FreePBX/Asterisk.

The public API is small: ``load_config``, ``ITFlowClient`` and the exceptions in
``itflow_bridge.core.errors``.  Names are imported lazily so that a classic AGI
script answering from the cache never pays for importing requests.
"""

__version__ = "0.2.0"

_LAZY = {
    "load_config": ("itflow_bridge.core.config", "load_config"),
    "Config": ("itflow_bridge.core.config", "Config"),
    "ITFlowClient": ("itflow_bridge.itflow.site", "ITFlowClient"),
    "Cache": ("itflow_bridge.storage.cache", "Cache"),
}

__all__ = ["__version__", "load_config", "Config", "ITFlowClient", "Cache"]


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError("module 'itflow_bridge' has no attribute %r" % name)
