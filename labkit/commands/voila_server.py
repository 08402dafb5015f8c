"""The Voilà server that ``labkit app`` starts: ``python -m voila`` minus one slow import.

jsonschema imports the optional ``rfc3987_syntax`` package, when it is installed, for its
``iri`` format checker, and that package compiles a Lark grammar at import: 1.3 s of the
server's 2.4 s start-up on a 2-core CPU (``python -X importtime -c "import voila.app"``).
Neither Voilà nor jupyter_server validates IRIs, so the server runs without it; every
other format checker stays.

References
----------
Voilà, "Using Voilà", https://voila.readthedocs.io/en/stable/using.html
"""
from __future__ import annotations

import sys


def main() -> None:
    """Run Voilà's own entry point with ``sys.argv`` as given."""
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # import fails: no iri checker
    from voila.app import main as voila_main

    voila_main()


if __name__ == "__main__":
    main()
