"""Preset authoring and extraction: tools that make the motion presets, never run by the pipeline itself."""
