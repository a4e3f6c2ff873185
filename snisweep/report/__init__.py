"""Reports: rows written as CSV or JSONL (``writers``, aiofiles, streamed and flushed), read back
(``readers``, their inverse), and merged (``merge``). Does file I/O in ``writers`` and ``merge``;
``readers`` is pure.
"""
