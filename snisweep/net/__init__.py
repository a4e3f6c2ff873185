"""The network edge: from an endpoint to its target (``resolve``), and one probe of a target
with or without SNI (``probe``, which drives ``http``, the sans-I/O HTTP check). Does network
I/O; network trouble comes back as a ``Failure`` value, never as an exception.
"""
