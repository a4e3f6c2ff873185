"""Running a scan: the scheduler that streams endpoints through resolution and probes into
records (``scheduler``), the session that runs it in one process or in forked ``workers`` and
handles signals (``session``), and the stable split of a list into shards (``shard``).
"""
