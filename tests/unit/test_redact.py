"""The API key never survives into text: raw, URL-encoded, or as any api_key= value."""

import logging

from itflow_bridge.core.redact import MASK, install_log_filter, redact, register_secret


def test_registered_secret_is_masked_in_all_forms():
    register_secret("k3y/with+special=chars")
    text = "raw k3y/with+special=chars enc k3y%2Fwith%2Bspecial%3Dchars plus k3y%2Fwith%2Bspecial%3Dchars"
    out = redact(text)
    assert "k3y" not in out
    assert out.count(MASK) == 3


def test_any_api_key_query_value_is_masked_even_unregistered():
    url = "https://itflow.example/api.php?cid=555&api_key=never-registered-123&x=1"
    assert redact(url) == "https://itflow.example/api.php?cid=555&api_key=***&x=1"


def test_log_filter_masks_messages_args_and_tracebacks(capsys):
    register_secret("log-secret-987")
    logger = logging.getLogger("test.redact")
    handler = logging.StreamHandler()
    install_log_filter(handler)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("failed %s", "https://x/api.php?api_key=log-secret-987")
        try:
            raise RuntimeError("boom log-secret-987")
        except RuntimeError:
            logger.exception("with traceback")
    finally:
        logger.removeHandler(handler)
    err = capsys.readouterr().err
    assert "log-secret-987" not in err
    assert "boom ***" in err
