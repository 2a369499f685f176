"""What is physically plausible in the custody books."""
