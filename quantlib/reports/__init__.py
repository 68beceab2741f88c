"""Rendering results: static charts now; HTML reports follow."""
