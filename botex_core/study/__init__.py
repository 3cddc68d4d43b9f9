"""Studies: many oTree sessions across models and personas, declared in one file."""
