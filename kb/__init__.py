"""kb: a searchable knowledge base of Swedish municipal reports with cited passages.

Python API::

    from kb import open_index, Filters
    kb = open_index("index")          # a folder, or "milvus://HOST:PORT/COLLECTION"
    result = kb.search("varför underskott inom LSS 2023", k=10, filters=Filters(years=(2023,)))
    for hit in result.hits:
        print(hit.rank, hit.citation, hit.text)

    from kb import ask
    result, answer = ask(kb, "varför underskott inom LSS 2023")   # QuestionError for an empty or wordless question
    for s in answer.sentences:                                     # empty when the reports do not state it clearly
        print(s.sentence, s.hit_rank, s.citation)
"""
from .answer.extract import Answer, QuestionError, ask
from .errors import KBError
from .location import FolderLocation, Location, parse_location
from .location import open_index as open_index
from .milvus.store import MilvusLocation
from .records import Chunk, Document, Facets, Filters, Hit, QueryInfo, SearchResult
from .search import KnowledgeBase, SearchParams

__version__ = "0.1.0"
__all__ = ["open_index", "parse_location", "Location", "FolderLocation", "MilvusLocation", "KnowledgeBase",
           "SearchParams", "Filters", "Facets", "Hit", "SearchResult", "QueryInfo", "Document", "Chunk", "KBError",
           "ask", "Answer", "QuestionError"]
