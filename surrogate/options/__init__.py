"""What the command lines share: click parameter types, the ``--threads`` and ``--overwrite`` options and the
check of where a command may write.

It sits between the core and the commands: the CLI's commands and the domains' ``simulate`` commands import
it (domains may not import the CLI); the core never does, so the engine stays free of click
(tests/test_layering.py).
"""
