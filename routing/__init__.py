"""Which agency gets a complaint (category now; area and duplicates come with geography)."""
