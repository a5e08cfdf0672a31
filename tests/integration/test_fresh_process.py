"""What a fresh Python process sees: the cache another process wrote, and a directory
lookup that needs only the standard library (what the per-call classic script loads).
"""

import subprocess
import sys
import textwrap

from itflow_bridge.storage.cache import Cache
from itflow_bridge.storage.directory_file import DirectoryEntry, DirectoryStore


def entry(number, name):
    return DirectoryEntry(kind="location", name=name, number=number, digits=number.lstrip("+"))


def test_a_new_process_reads_what_another_wrote(tmp_path):
    Cache(tmp_path).put("cid:US:+15551234567", {"name": "John"}, ttl=60)
    code = (
        "import sys; from itflow_bridge.storage.cache import Cache; "
        "e = Cache(sys.argv[1]).get('cid:US:+15551234567'); print(e.value['name'])"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "John"



def test_find_needs_only_the_standard_library(tmp_path):
    store = DirectoryStore(tmp_path / "d.sqlite3")
    with store.writer() as writer:
        writer.add([entry("+15551234567", "Acme Corp")])
        writer.commit(duration=0.01, generation="v1")
    code = textwrap.dedent("""
        import sys
        from itflow_bridge.storage.directory_file import Directory
        hit = Directory(sys.argv[1]).find("+15551234567")
        heavy = sorted(m for m in ("requests", "phonenumbers", "urllib3", "cachetools") if m in sys.modules)
        print(hit.name, heavy)
    """)
    out = subprocess.run([sys.executable, "-c", code, str(store.path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Acme Corp []"
