"""Execute the session's notebooks in a process of its own (``tests/early.py``):
``python run_notebooks.py OUT TOPIC:VARIANT...``, with a kernel spec of its own under OUT."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests import early

if __name__ == "__main__":
    out = Path(sys.argv[1])
    wanted = [tuple(job.split(":")) for job in sys.argv[2:]]

    def _run() -> list[tuple]:
        from tests import test_notebooks as nb

        kernel = nb.make_kernel_spec(out / "jupyter")
        os.environ["JUPYTER_PATH"] = os.pathsep.join(
            filter(None, (str(out / "jupyter"), os.environ.get("JUPYTER_PATH")))
        )
        return nb.run_all(wanted, kernel, nb.EARLY_CONCURRENCY)

    early.finish(out, _run)
