from servicekit.migrations import run_env

from web.adapters.tables import metadata

run_env(metadata)
