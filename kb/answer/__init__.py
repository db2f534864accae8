"""The answer stage: a short answer to a question from the hits of a search.

extract (quoted evidence sentences, scored, with a calibrated confidence), forms (the form of a
question and whether a sentence has that kind of answer) and generate (an optional answer written
by a language model, each sentence checked against its sources).
"""
