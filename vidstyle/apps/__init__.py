"""The commands built on the stylizer: the video pipeline, live preview, batch rendering, the style sheet and system info."""
