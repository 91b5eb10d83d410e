"""Study and sweep configuration: the YAML schemas (pydantic, unknown keys rejected), the
one YAML reader (file:line errors, ``${VAR}`` expansion, size limits) and the named checks
``evplan validate`` runs."""
