"""What every part shares: device, train and convert all import from here (standard library, numpy, OpenCV).

``shapes`` (the network's input and classes), ``files`` (atomic writes), ``images`` (reading image files),
``errors`` (one-line error texts, warnings), ``argtypes`` (command-line value types), ``progress`` (progress
bars that degrade to nothing), ``verbosity`` (what native libraries may print).
"""
