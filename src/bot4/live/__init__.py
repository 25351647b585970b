"""Live and paper trading: the trading node, its configuration and its secrets."""
