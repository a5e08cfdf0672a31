"""The classic scripts' answer book: its file, its keys, and what makes it miss."""

import os

from hypothesis import given
from hypothesis import strategies as st

from itflow_bridge.storage import answer_book as answers
from itflow_bridge.services.numbers import WITHHELD_WORDS, lookup_number
from itflow_bridge.storage.layout import ANSWERS, FILE_MODE

CONFIGURATION = "/etc/itflow-bridge/itflow-bridge.conf:1:2:3:||||k00000000"
LINES = ['SET VARIABLE "CALLERID(name)" "Acme Corp - John Smith"', 'SET VARIABLE "ITFLOW_CID_STATUS" "FOUND"']


def directory_file(tmp_path, content=b"sqlite"):
    path = tmp_path / "directory-0123.sqlite3"
    path.write_bytes(content)
    return str(path)


def test_every_key_reads_back_its_lines(tmp_path):
    directory = directory_file(tmp_path)
    book = {("+1555%07d" % n): ['SET VARIABLE "CALLERID(name)" "Person %d"' % (n // 2)] for n in range(5000)}
    book["5551234567"] = LINES
    path = answers.write_book(str(tmp_path), CONFIGURATION, directory, book)
    assert path == answers.book_path(str(tmp_path), CONFIGURATION)
    for key in ("+15550000000", "+15550004999", "+15550002345"):
        assert answers.lookup(str(tmp_path), CONFIGURATION, key) == book[key]
    assert answers.lookup(str(tmp_path), CONFIGURATION, "5551234567") == LINES
    assert answers.lookup(str(tmp_path), CONFIGURATION, "+15559999999") == []
    assert answers.lookup(str(tmp_path), CONFIGURATION, "+1555000000") == []  # a prefix of a key is no key
    assert os.stat(path).st_mode & 0o777 == FILE_MODE  # whatever the umask


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_another_configuration_or_a_replaced_directory_misses(tmp_path):
    directory = directory_file(tmp_path)
    answers.write_book(str(tmp_path), CONFIGURATION, directory, {"5551234567": LINES})
    assert answers.lookup(str(tmp_path), CONFIGURATION + "x", "5551234567") == []
    replacement = tmp_path / "new.sqlite3"
    replacement.write_bytes(b"the next sync")
    os.replace(replacement, directory)  # what a sync does: a new file, a new inode
    assert answers.lookup(str(tmp_path), CONFIGURATION, "5551234567") == []
    os.unlink(directory)
    assert answers.lookup(str(tmp_path), CONFIGURATION, "5551234567") == []


def test_only_variable_assignments_are_ever_sent(tmp_path):
    directory = directory_file(tmp_path)
    path = answers.write_book(str(tmp_path), CONFIGURATION, directory, {"5551234567": LINES})
    with open(path, "rb") as handle:
        data = handle.read()
    tampered = data.replace(b'SET VARIABLE "ITFLOW_CID_STATUS"', b'EXEC System "rm -rf / #"')
    with open(path, "wb") as handle:
        handle.write(tampered)
    os.utime(directory)  # (the stamp includes the mtime: put the directory's back as it was)
    assert answers.lookup(str(tmp_path), CONFIGURATION, "5551234567") == []


def test_a_garbage_book_is_a_miss(tmp_path):
    directory = directory_file(tmp_path)
    path = answers.book_path(str(tmp_path), CONFIGURATION)
    os.makedirs(os.path.dirname(path))
    header = answers.HEADER.encode()
    head = b"%s\n%s\n%s\n%s\n" % (header, CONFIGURATION.encode(), directory.encode(),
                                  answers.directory_stamp(directory).encode())
    for garbage in (b"", header + b"\n", b"\xff" * 100, header + b"\n%s\nx\ny\nz\n"
                    % CONFIGURATION.encode(), head + b"0\n", head + b"-3\n", head + b"2\nzzzz",
                    head + b"1\n000000000000000000000040\n5551234567 -1 9\n",
                    head + b"1\n000000000000000000000040\n5551234567 0 %d\n" % 10 ** 30):
        with open(path, "wb") as handle:
            handle.write(garbage)
        assert answers.lookup(str(tmp_path), CONFIGURATION, "5551234567") == []


def test_outdated_books_are_removed(tmp_path):
    directory = directory_file(tmp_path)
    old = answers.write_book(str(tmp_path), "old configuration", directory, {"1": LINES})
    other = tmp_path / "other.sqlite3"
    other.write_bytes(b"x")
    kept = answers.write_book(str(tmp_path), "a second PBX config, same cache", str(other), {"1": LINES})
    replacement = tmp_path / "new.sqlite3"
    replacement.write_bytes(b"next")
    os.replace(replacement, directory)
    current = answers.write_book(str(tmp_path), CONFIGURATION, directory, {"1": LINES})
    assert answers.remove_outdated(str(tmp_path), current) == 1
    assert not os.path.exists(old) and os.path.exists(kept) and os.path.exists(current)


@given(st.text(alphabet="+0123456789 ().-/x*#\t", max_size=24))
def test_the_key_is_the_number_as_the_lookup_cleans_it(text):
    key = answers.caller_key(text)
    cleaned = lookup_number(text, 1)
    if cleaned is not None:
        assert key == cleaned
    elif key is not None:  # refused only for its length or for being all zeros
        digits = key.lstrip("+")
        assert len(digits) > 18 or int(digits) == 0


def test_withheld_words_are_no_keys():
    assert all(answers.caller_key(word) is None for word in WITHHELD_WORDS)
    assert answers.caller_key(None) is None and answers.caller_key("+") is None


def test_the_number_of_the_call_is_the_argument_else_the_caller():
    assert answers.call_number({"agi_callerid": "5551234567", "agi_arg_1": " +15550001111 "}) == "+15550001111"
    assert answers.call_number({"agi_callerid": "5551234567", "agi_arg_1": "  "}) == "5551234567"
    assert answers.call_number({}) is None


def test_the_books_folder_is_the_groups_whatever_the_umask(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    os.chmod(cache, 0o2770)
    previous = os.umask(0o022)
    try:
        answers.write_book(str(cache), CONFIGURATION, directory_file(tmp_path), {"1": LINES})
    finally:
        os.umask(previous)
    assert os.stat(cache / ANSWERS).st_mode & 0o7777 == 0o2770


def test_a_book_of_an_older_format_misses(tmp_path):
    """A book written before it held every ITFLOW_* variable of today's flow is not replayed."""
    directory = directory_file(tmp_path)
    path = answers.write_book(str(tmp_path), CONFIGURATION, directory, {"5551234567": LINES})
    assert answers.lookup(str(tmp_path), CONFIGURATION, "5551234567") == LINES
    with open(path, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(data.replace(answers.HEADER.encode(), b"itflow-bridge answers 1", 1))
    assert answers.lookup(str(tmp_path), CONFIGURATION, "5551234567") == []
