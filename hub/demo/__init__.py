"""``sihub demo``: the whole county scenario, every department simulated through its adapter."""
