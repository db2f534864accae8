"""Short extractive answers: the one to three sentences of the top hits that best answer a
question, each tied to the hit it came from. Nothing is generated.

(Placeholder scoring; see issue 4 for the full answer module.)
"""
