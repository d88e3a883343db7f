from servicekit.migrations import run_env

from patients.adapters.tables import metadata

run_env(metadata)
