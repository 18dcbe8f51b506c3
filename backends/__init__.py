"""Built-in backend plugins; each registers through the ``warpfuzz.backends`` entry-point group."""
