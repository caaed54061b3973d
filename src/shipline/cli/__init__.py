"""The ``shipline`` command line: thin verbs over the domain packages."""
