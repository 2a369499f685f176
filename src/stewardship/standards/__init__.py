"""Standards as versioned data, and the governance that writes them."""
