"""Instances for tests and benchmarks: published OR-Library p-median files (:mod:`.orlib`)
and named synthetic instances (:mod:`.synthetic`, never presented as real data)."""
