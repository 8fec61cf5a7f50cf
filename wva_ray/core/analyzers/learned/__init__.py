"""Analyzer `learned`: an online-learning, distribution-aware decision engine (see analyzer.py). Pure."""
