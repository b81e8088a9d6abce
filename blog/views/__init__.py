"""HTTP views: thin functions that parse input, call one service and render or redirect."""
