"""Carbon: emission inventories per entity and installation, smelter thresholds, and the
product footprints that travel down the chain of custody."""
