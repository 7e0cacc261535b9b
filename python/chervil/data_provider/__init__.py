"""Files and their staging."""
