"""A module that fails while being imported, as user code sometimes does."""

raise RuntimeError("this module cannot be imported")
