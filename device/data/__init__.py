"""Digit sets, the one data layer: ``device eval``, ``train`` and ``convert`` read every file through it."""
