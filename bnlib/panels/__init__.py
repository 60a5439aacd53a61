"""Live panels, one module per notebook topic. Each class here is a :class:`bnlib.live.Panel`."""
