"""The core stays UI-free: importing it must not import Streamlit."""

import subprocess
import sys


def test_importing_the_core_does_not_import_streamlit():
    code = ("import sys, ganglioside, ganglioside.charts, ganglioside.export, "
            "ganglioside.runs.executors, ganglioside.runs.store, ganglioside.demo, ganglioside.cli; "
            "print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
