"""Carbon footprints carried by the custody pools."""
