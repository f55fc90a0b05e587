"""The host and the features. Importing `bot` first defers two libraries the Agents SDK would
load at start-up for work Carrefour never does (bot/lazy_modules.py)."""

from bot import lazy_modules

lazy_modules.install()
