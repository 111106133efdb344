"""``python -m experiments``: the ``sidemesh`` command line, for environments without the script.

Same commands, options, output and exit statuses as the installed ``sidemesh`` console script.
"""

from experiments.cli import main

if __name__ == "__main__":
    main(prog_name="sidemesh")
