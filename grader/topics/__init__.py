"""The course's topics: every module (or package) directly under ``grader.topics`` is one topic.

A topic module declares its topic and nothing else runs at import time. Every topic module has
the same interface, listed in ``__all__`` and checked by ``grader.registry`` when it loads:

- ``TOPIC: str``: the topic's name, equal to the module's name (``"losses"``);
- ``SUMMARY: str``: one line on what is special about the topic (README's topic table);
- ``FUNCTIONS: tuple[str, ...]``: the functions and classes students write, in teaching order;
  every one has at least one check, and ``solutions/<topic>.py`` defines each;
- ``MISCONCEPTIONS: tuple[Misconception, ...]``: the known mistakes its checks can name, each
  for one of ``FUNCTIONS``;
- ``WORKER_SETUP: str``: what the worker installs before the student module is imported:
  ``""`` (nothing) or ``grader.sim.SIMULATED`` (the simulated CUDA device and clocks);
- ``checks() -> list[Check]``: the check declarations, in the order they are graded.

A topic that needs more than one file is a package: ``<topic>/__init__.py`` holds the interface
and its part modules (inputs, laws, mistakes, ...) sit beside it; a part module's ``checks``
takes the topic name (``checks(topic: str) -> list[Check]``), as it cannot import its package.
The teaching order of the topics is the order of ``topics:`` in ``autograder.yml``.
"""
