"""Study outputs: machine-readable files (:mod:`.export`), the HTML report (:mod:`.html`)
with its charts (:mod:`.charts`) and assets, and the one atomic writer (:mod:`.atomic`)."""
