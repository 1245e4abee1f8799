"""ALP models shipped for ``alpscan recast`` (each module is also a template for a user model)."""
