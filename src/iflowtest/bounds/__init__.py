"""Limits on input that a remote side or a suite file controls: answers, JSON nesting, YAML aliases, regex time.

An answer from a tenant (or a receiver behind it), a recorded cassette and a suite file are read through
these, so that a hostile or broken one fails one case with a clear line instead of hanging the run,
exhausting its memory or crashing pytest. Part of the shared base: any module may import it; it may
import `errors` only.
"""
