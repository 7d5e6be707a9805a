"""The student: LoRA SFT on the exported splits (`distill train`) and its grading (`distill eval`).

Everything heavy (torch, transformers, trl, peft, datasets) is imported inside the functions that
need it, never when `distill` is imported: the `train` extra is optional.
"""
