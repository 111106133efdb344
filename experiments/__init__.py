"""sidemesh experiments: specs, the runner, summaries and the ``sidemesh`` CLI.

Python API, mirroring the CLI::

    import experiments
    spec = experiments.load_spec("my.toml", ["endpoint.interval_s=60"], seed=2, duration="2h")
    result = experiments.run(spec)
    print(result.summary["pdr"])
    result.write("out/")
"""

from experiments.runner import RunResult, run
from experiments.spec import Spec, SpecError, load_spec, parse_duration

__all__ = ["RunResult", "Spec", "SpecError", "load_spec", "parse_duration", "run"]
