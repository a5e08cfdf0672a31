"""Reading ``default_region`` costs a classic AGI call no ``phonenumbers`` import (30 to 100 ms)."""

import os
import subprocess
import sys
import textwrap


def test_loading_a_config_with_a_region_imports_no_phonenumbers(tmp_path):
    conf = tmp_path / "bridge.conf"
    conf.write_text("[callerid]\ndefault_region = DE\n", encoding="utf-8")
    code = textwrap.dedent("""
        import sys
        from itflow_bridge.core.config import load_config
        print(load_config(sys.argv[1], env={}).callerid.default_region, "phonenumbers" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code, str(conf)], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert out.stdout.split() == ["DE", "False"]
