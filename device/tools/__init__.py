"""Tools around the recogniser: `device eval`, `device bench`, `device collect`."""
