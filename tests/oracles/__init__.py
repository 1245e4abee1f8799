"""Reference implementations used only by the tests (oracles)."""
