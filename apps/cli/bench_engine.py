"""Registers its command on the apps of `app.py`."""
