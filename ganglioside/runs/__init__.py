"""Runs: the store of submitted analyses, the job function that executes one, and the executors
that call it (``store``, ``job``, ``executors``)."""
