"""Load benchmark: many simulated citizens file complaints against the local Bot API server.

``python -m bench.filings`` (``make bench``) runs SiKesal and a no-op aiogram bot (the framework's
ceiling) side by side, each in its own subprocess, and prints a comparison table. See README.md,
section "Benchmark".
"""
