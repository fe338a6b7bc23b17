"""The thin Dagster shell: assets wire inputs to the core and outputs to the warehouse."""
