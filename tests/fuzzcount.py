"""What the hostile-shape fuzz sent, for the run's summary line."""
from collections import Counter

FUZZED = Counter()
