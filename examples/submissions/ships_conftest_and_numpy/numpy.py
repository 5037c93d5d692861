"""A fake numpy shipped beside the submission: the worker must never import it."""

raise ImportError("the submission's numpy.py was imported: extra files must be ignored")
