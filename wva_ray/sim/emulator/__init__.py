"""sim/emulator."""
