"""What every part shares: device, train and convert all import from here (standard library and numpy only).

``shapes`` (the network's input and classes), ``files`` (atomic writes), ``errors`` (one-line error texts),
``argtypes`` (command-line value types), ``progress`` (progress bars that degrade to nothing).
"""
