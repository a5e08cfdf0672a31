"""The [calls] settings: defaults, validation naming the key, the AMI secret kept out of messages."""

import pytest

from itflow_bridge.core.config import CallsSettings, load_config
from itflow_bridge.core.errors import ConfigError
from itflow_bridge.core.redact import redact
from config_files import write


def test_calls_are_off_by_default_with_documented_defaults(tmp_path):
    calls = load_config(write(tmp_path, ""), env={}).calls
    assert calls == CallsSettings()
    assert (calls.enabled, calls.answered, calls.priority, calls.repeat_window, calls.time_step) == (
        False, "off", "Low", 3600, 15)
    assert calls.inbound_contexts == ("from-trunk", "from-pstn") and calls.ami_port == 5038


def test_calls_settings_are_read_and_typed(tmp_path):
    calls = load_config(write(tmp_path, (
        "[calls]\nenabled = yes\nanswered = Ticket\npriority = high\nsubject_template = Call {number} {client}\n"
        "repeat_window = 0\ntime_step = 6\nbillable = yes\ninbound_contexts = from-trunk,  ext-did\n"
        "ami_host = 192.0.2.5\nami_port = 5039\nami_user = bridge\nami_secret = s3cret-ami\n")), env={}).calls
    assert (calls.enabled, calls.answered, calls.priority, calls.repeat_window, calls.time_step, calls.billable) == (
        True, "ticket", "High", 0, 6, True)
    assert calls.subject_template == "Call {number} {client}"
    assert calls.inbound_contexts == ("from-trunk", "ext-did")
    assert (calls.ami_host, calls.ami_port, calls.ami_user) == ("192.0.2.5", 5039, "bridge")
    assert "s3cret-ami" not in repr(calls)
    assert redact("AMI login failed for s3cret-ami") == "AMI login failed for ***"


@pytest.mark.parametrize("line, words", [
    ("answered = always", "[calls] answered = 'always'"),
    ("priority = urgent", "use Low, Medium, High or Critical"),
    ("subject_template = {caller}", "use only the fields"),
    ("repeat_window = -1", "[calls] repeat_window"),
    ("time_step = 0", "[calls] time_step"),
    ("inbound_contexts = ,", "at least one dialplan context"),
    ("ami_port = 0", "[calls] ami_port"),
    ("enabled = perhaps", "use yes or no"),
])
def test_a_bad_calls_setting_names_the_key(tmp_path, line, words):
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, "[calls]\n%s\n" % line), env={})
    assert words in str(error.value)
