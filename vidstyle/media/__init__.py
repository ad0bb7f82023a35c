"""Video and image I/O: decoding, encoding, image sequences, atomic outputs and cutting clips into parts; knows nothing about styles."""
