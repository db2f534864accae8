"""The answer stage: a short answer to a question from the hits of a search.

extract (quoted evidence sentences, scored, with a calibrated confidence), forms (the form of a
question and whether a sentence has that kind of answer), and the optional answer written by a
language model: prompt (the instruction and the escaped sources), check (each generated sentence
against the source sentences it rests on), facts (the numbers, clauses, negations and direction
words the check compares) and generate (the request and the whole step).
"""
