"""Testing support that ships with the package: the strict fake GPU (``fakegpu``)."""
