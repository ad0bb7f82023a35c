"""The one stylizer and what it stands on: frame preparation, controls, engines, graphs, styles and style images."""
