"""Speed and memory measurements; each script prints one JSON object."""
