"""Plugin contracts, hookspecs and the host that calls them."""
