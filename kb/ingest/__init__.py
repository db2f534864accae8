"""The ingest stage: from report files to a published index.

read (files to :class:`kb.records.Document`: discovery, decoding, PDF pages, metadata, sidecars),
pdfworker (the PDF parser's worker process), chunk (passages), guard (when a build may publish)
and build (the folder index writer).
"""
