"""The one YAML reader of study and sweep files: :mod:`networks.yaml_reader`, re-exported
here (where the study loader imported it from). It moved to :mod:`networks` so that vehicle
catalogues (:mod:`sim.catalogue`, which must not import :mod:`planner`) are read by it too.
"""

from networks.yaml_reader import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_VALUES,
    expand_vars,
    line_of,
    read_yaml,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_VALUES",
    "expand_vars",
    "line_of",
    "read_yaml",
]
