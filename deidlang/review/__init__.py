"""Tools for reviewing rules as code: formatting, plan diffs, profile coverage, rule tests, HTML.

These read plans (and, for rule tests and dry runs, apply them); they never change what a plan does.
"""
