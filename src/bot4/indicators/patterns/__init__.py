"""Chart-pattern detectors that never look ahead."""
