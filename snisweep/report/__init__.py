"""Reports: rows written as CSV, JSONL (``writers``, aiofiles, streamed and flushed) or a
workbook (``xlsx``), read back (``readers``, their inverse), merged (``merge``), compared
(``diff``) and resumed (``resume``: what a report already holds). Does file I/O, but for
``readers``, which is pure.
"""
