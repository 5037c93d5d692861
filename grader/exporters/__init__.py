"""Exports of the course into the platforms courses use (``grader export TARGET``).

Each export is generated from the registry and ``autograder.yml`` when it is asked for, never
edited by hand and not kept in the repository; the platform runs the kit's own judge.
"""
