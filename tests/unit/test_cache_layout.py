"""The cache directory's one mode policy and one atomic writer, as every store uses them."""

import os
import stat

import pytest

from directory_data import StubV1Adapter, client, contact, empty_dataset
from itflow_bridge.directory.sync import SyncSettings, sync
from itflow_bridge.storage import answer_book, layout, replay
from itflow_bridge.storage.directory_file import DirectoryEntry, DirectoryStore

CONFIGURATION = "/etc/itflow-bridge/itflow-bridge.conf:1:2:3:||||k00000000"
LINES = ['SET VARIABLE "CALLERID(name)" "Acme Corp - John Smith"']


@pytest.fixture
def umask():
    """Set a umask for the test; the previous one comes back after it."""
    previous = os.umask(0o022)
    yield os.umask
    os.umask(previous)


@pytest.fixture
def cache(tmp_path):
    """A cache directory as ``install`` leaves it: setgid, group read-write."""
    directory = tmp_path / "cache"
    directory.mkdir()
    os.chmod(directory, layout.CACHE_DIR_MODE)
    return directory


@pytest.fixture
def restricted_set_id(monkeypatch):
    """What systemd's RestrictSUIDSGID=yes does: any chmod whose mode holds a set-id bit fails with EPERM."""
    calls = []

    def refusing(real):
        def change(target, mode, *args, **kwargs):
            calls.append(mode)
            if mode & (stat.S_ISUID | stat.S_ISGID):
                raise PermissionError(1, "Operation not permitted")
            return real(target, mode, *args, **kwargs)
        return change

    monkeypatch.setattr(os, "chmod", refusing(os.chmod))
    monkeypatch.setattr(os, "fchmod", refusing(os.fchmod))
    return calls


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def one_sync(cache_dir, name):
    data = empty_dataset()
    data["clients"] = [client(1, "Acme Corp")]
    data["contacts"] = [contact(1, 1, name, phone="2025550123")]
    store = DirectoryStore(cache_dir / "directory-0123.sqlite3")
    sync(StubV1Adapter(data), store, SyncSettings())
    return store


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077, 0o007])
def test_the_directory_file_is_0660_after_every_sync_whatever_the_umask(cache, umask, mask):
    umask(mask)
    store = one_sync(cache, "John Smith")
    assert mode(store.path) == layout.FILE_MODE
    store = one_sync(cache, "Jane Smith")  # a second sync replaces the file: same mode again
    assert mode(store.path) == layout.FILE_MODE and store.open().find("+12025550123").name == "Jane Smith"
    assert layout.files_off_policy(str(cache), os.stat(cache).st_gid) == []  # a second install changes nothing


def test_a_hardened_unit_creates_the_store_folders_on_its_first_run(cache, umask, restricted_set_id):
    """UMask=0007 and RestrictSUIDSGID=yes: the folders get group and setgid from the cache, no chmod needed."""
    umask(0o007)
    with DirectoryStore(cache / "directory-0123.sqlite3").writer() as writer:
        writer.add([DirectoryEntry(kind="contact", name="John Smith", number="+12025550123")])
        writer.commit(duration=0.1, generation="v1")
    directory = str(cache / "directory-0123.sqlite3")
    answer_book.write_book(str(cache), CONFIGURATION, directory, {"+12025550123": LINES})
    replay.record(str(cache), "replay:key", LINES, fresh_until=4e9)
    assert mode(cache / layout.ANSWERS) == mode(cache / layout.REPLAY) == 0o2770
    assert not any(call & stat.S_ISGID for call in restricted_set_id)  # nothing asked for a set-id bit
    assert answer_book.lookup(str(cache), CONFIGURATION, "+12025550123") == LINES
    assert replay.recorded_lines(str(cache), "replay:key") == LINES
    assert layout.files_off_policy(str(cache), os.stat(cache).st_gid) == []


def test_a_looser_umask_still_gives_the_folder_to_the_group_keeping_setgid(cache, umask):
    umask(0o022)
    layout.shared_folder(str(cache / layout.REPLAY))
    assert mode(cache / layout.REPLAY) == 0o2770


def test_every_store_file_is_0660_whatever_the_umask(cache, umask):
    umask(0o077)
    directory = str(cache / "directory-0123.sqlite3")
    with open(directory, "wb"):
        pass
    book = answer_book.write_book(str(cache), CONFIGURATION, directory, {"+12025550123": LINES})
    replay.record(str(cache), "replay:key", LINES, fresh_until=4e9)
    (recorded,) = (cache / layout.REPLAY).iterdir()
    assert mode(book) == mode(recorded) == layout.FILE_MODE


def test_install_finds_an_earlier_versions_files_and_only_those(cache):
    old = cache / "directory-0123.sqlite3"
    old.write_bytes(b"")
    os.chmod(old, 0o640)  # what syncs wrote before the policy
    os.mkdir(cache / layout.REPLAY)
    stray = cache / layout.REPLAY / "0000000000000000"
    stray.write_bytes(b"")
    os.chmod(stray, 0o600)
    fine = cache / layout.CACHE_DB
    fine.write_bytes(b"")
    os.chmod(fine, layout.FILE_MODE)
    assert layout.files_off_policy(str(cache), os.stat(cache).st_gid) == [str(old), str(stray)]


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(cache):
    target = str(cache / "book")
    layout.write_atomically(target, [b"old"])

    def failing():
        yield b"half of the new"
        raise OSError("disk full")

    with pytest.raises(OSError):
        layout.write_atomically(target, failing())
    assert os.listdir(str(cache)) == ["book"] and open(target, "rb").read() == b"old"


def test_the_stores_are_listed_in_lookup_order(cache):
    (cache / "directory-aaaa.sqlite3").write_bytes(b"")
    (cache / "directory-bbbb.sqlite3.1.ff.tmp").write_bytes(b"")  # a sync under way is no store
    assert layout.store_paths(str(cache)) == [
        ("answer book", str(cache / layout.ANSWERS)), ("replay", str(cache / layout.REPLAY)),
        ("local directory", str(cache / "directory-aaaa.sqlite3")),
        ("lookup cache", str(cache / layout.CACHE_DB))]
