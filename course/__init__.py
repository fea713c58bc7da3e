"""Course helper library (placeholder while the foundation is written)."""
