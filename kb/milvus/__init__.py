"""The Milvus back-end: the same index in a Milvus collection.

store (``milvus://`` addresses, the connection and the collections' layout), index
(:class:`MilvusIndex`, a :class:`kb.backend.PassageIndex`) and ingest (writing a collection).
"""
