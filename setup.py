"""Thin setuptools entry point, for tools and readers that look for ``setup.py``.

Everything about the package lives in ``pyproject.toml``: name, version, dependencies (read from
``requirements.txt``), extras, package data and the ``verl.plugins`` entry point that makes verl
import the plugin. ``pip install -e .`` and ``python setup.py --version`` both read it from there.
"""

from setuptools import setup

setup()
