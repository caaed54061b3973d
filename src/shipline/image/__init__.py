"""Container images that serve one model version: the build context, the tools that build it,
and what the image runs."""
