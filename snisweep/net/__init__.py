"""The network edge: a name's addresses (``resolve``, the system resolver in a pool of its own),
and one probe of a target with or without SNI (``probe``, which drives ``http``, the sans-I/O
HTTP check, and ``proxy``, the sans-I/O ``CONNECT`` dialogue of a proxy). Does network I/O;
network trouble comes back as a ``Failure`` value, never as an exception.
"""
