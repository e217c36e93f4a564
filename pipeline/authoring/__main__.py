"""`uv run python -m pipeline.authoring`: rewrite the authored presets in assets/presets/."""

from pipeline.authoring.controls import main

main()
