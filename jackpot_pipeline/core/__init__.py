"""Pure domain core: maths and domain logic with no Dagster import, tested on its own."""
