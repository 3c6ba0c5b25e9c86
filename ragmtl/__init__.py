"""ragmtl: retrieval-augmented multi-task learning, the library behind the executable book.

Subpackages mirror the book's chapters; heavy dependencies (transformers, faiss) are imported
lazily inside the modules that need them.
"""
__version__ = "0.1.0"
