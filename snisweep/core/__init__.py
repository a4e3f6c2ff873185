"""The pure core: what a certificate says and covers, the verdict, the warnings, the row.
No I/O: every function here takes facts (endpoints and observations) and returns values.

``certs``     certificate facts and host name matching (RFC 6125)
``classify``  **the** decision table: the only place a verdict is decided
``pitfalls``  the warnings: what else a real client meets at an endpoint
``trust``     whether the chain a server sent verifies (once per distinct chain; reads the
              CA files once, when its store is made)
``record``    the row for an endpoint, in the contract's column order
"""
