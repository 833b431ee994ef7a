"""Root of the test suite.

Its presence matters: ``tests`` is a package, so pytest puts the repository root
on ``sys.path`` when it imports this file, and test modules can import the shared
helpers as ``tests.support.*`` under ``pytest`` as well as ``python -m pytest``.
"""
