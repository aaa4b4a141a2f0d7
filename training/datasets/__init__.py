"""The training pipelines' `tf.data` batches: text streams (`text.py`) and parallel text
(`parallel_text.py`). The corpora themselves, and the Sec. 6.1 retrieval data, are
`fwp_keras.datasets`."""
