"""``python -m training ...`` is ``fipo ...``; use it under ``accelerate launch -m training train sft ...``."""

from __future__ import annotations

from fipo_integrations.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
