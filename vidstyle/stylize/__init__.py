"""The frame stylizer: finding and loading styles, strength, mixing and colour controls, devices and execution backends."""
