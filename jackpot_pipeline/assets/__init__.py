"""The thin Dagster shell: assets that read inputs, call the core, write outputs and attach metadata."""
