"""Workflow plumbing: what the Snakefile and the rule scripts need besides the science.

- ``config``    the config checks, one path and one message format
- ``design``    a validated config's experiments, sampled points, bag blocks, file names and job resources
- ``tables``    Parquet tables with provenance metadata, written atomically; the readers of the results
- ``codedeps``  what each rule's output depends on in this package (the rules' ``code`` params)
- ``logs``      logging of the rule scripts to their ``log:`` files
"""
