"""Built-in grammar plugins; each registers through the ``warpfuzz.grammars`` entry-point group."""
