"""The live preview: the session (options, keys, recording, the main loop), the capture thread, and the window."""
