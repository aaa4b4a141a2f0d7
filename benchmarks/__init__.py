"""Speed and memory measurements of fwp-keras (run by hand or with `make bench`; not tests)."""
