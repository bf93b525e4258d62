"""The verdicts: one module per rule, and the final status that combines them.

``rule1_regression`` (Rule 1, algorithm 1.0: per-prefix models) and ``rule1_pooled`` (Rule 1,
algorithm 2.x: every head group, isomer lines, confidence); ``isomers`` (Rules 2-3);
``oacetylation`` (Rule 4); ``fragments`` and ``fragment_model`` (Rule 5, 1.0 and 2.x);
``chemistry`` (the chemistry checks); ``status`` (final status, reasons, summary); ``grouping``
(row grouping helpers the rules share).
"""
