"""cloc-bench: the CLOC loss, ordinal metrics, training and aggregation."""
