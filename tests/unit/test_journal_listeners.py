"""The call journal hands every AMI event, and each lost connection, to its listeners (the agent screen)."""

from itflow_bridge.calls.ami_protocol import Message
from itflow_bridge.calls.journal import CallJournal
from itflow_bridge.core.config import CallsSettings


def test_listeners_get_every_event_and_the_lost_connection_and_a_failing_one_harms_nothing(tmp_path):
    journal = CallJournal(CallsSettings(), tmp_path, lambda number: None, None, writer=None)  # type: ignore[arg-type]
    seen, lost = [], []

    def broken(message):
        raise RuntimeError("a listener's bug")

    journal.event_listeners += [broken, seen.append]
    journal.lost_listeners += [lambda: lost.append(True)]
    message = Message([("Event", "Newchannel"), ("Uniqueid", "1.1"), ("Linkedid", "1.1"), ("Channel", "PJSIP/1-1")])
    journal.on_event(message)
    assert seen == [message]
    assert [call.call_id for call in journal._tracker.unfinished()] == ["1.1"]  # the journal had it too
    journal._lost()
    assert lost == [True]
    journal.close()
