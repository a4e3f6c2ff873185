"""Endpoint lists: finding them, reading them (YAML, text, CSV) and checking every entry, with
every problem reported as ``FILE:LINE``. I/O: reads files and standard input.

``load``        find the lists, validate them all, stream the unique endpoints: exactly the
                ones validated, or ``ListChangedError`` when a list changed since
``rules``       what every format shares: endpoint strings, URLs, hosts, addresses, ports,
                line ends, and the one constructor of an entry
``yaml_list``   YAML lists from libyaml's events; ``yaml_lines`` the fast line reader of the
                plain subset; ``yaml_nodes`` the small tree both build
``text_list``   one endpoint string a line; ``csv_list`` a header and one row each
``proxies``     proxy URLs, the environment's proxy and ``NO_PROXY``
"""
