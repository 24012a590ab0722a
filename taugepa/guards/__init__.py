"""What taugepa accepts from outside, and the one clear line for what it refuses.

Part of the base layer, below every package: the limits on inputs and their reasons
(`limits`), the one bounded JSON and text reader (`safe_json`), text made safe to store
(`safe_text`), one-line messages from validation errors (`validation`), output paths checked
before a run (`output_paths`), and warnings said once (`notices`).
"""
