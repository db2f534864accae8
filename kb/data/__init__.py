"""Data shipped with kb: the acronym glossary."""
