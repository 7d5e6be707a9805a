"""`distill status` and `distill report`: what is in an output directory, and what the nights did.

data.py    the output directory (graded/samples, history.jsonl, cache size) as pandas frames
summary.py the figures both show, as labelled text rows
(the terminal tables of `distill status` are drawn by distill.cli.console)
plots.py   the figures (matplotlib, Agg), as PNG bytes
html.py    one self-contained HTML page: figures inlined, no external CSS, JS or fonts
"""
