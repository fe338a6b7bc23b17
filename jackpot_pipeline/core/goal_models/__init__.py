"""Goal and rating models used as forecast members (one module per model, pure numpy/scipy)."""
