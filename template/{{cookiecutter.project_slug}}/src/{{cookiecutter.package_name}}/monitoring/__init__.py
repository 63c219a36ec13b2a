"""Monitoring: has the data the model sees drifted from the data it learned?

``monitor`` (:mod:`.monitor`) compares new rows with the training split
column by column (:mod:`.statistics`) and writes a deterministic report and a
figure (:mod:`.report`); ``--fail-on-drift`` makes drift an exit code for
schedulers.
"""
