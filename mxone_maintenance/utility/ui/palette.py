"""The palette: colours, and a monochrome attribute for every entry (readable without colour)."""
from __future__ import annotations

# (name, foreground, background, mono, foreground_high, background_high)
PALETTE: list[tuple[str, str, str, str, str, str]] = [
    ("background", "light gray", "black", "default", "", ""),
    ("header", "white,bold", "dark blue", "standout", "", ""),
    ("footer", "black", "light gray", "standout", "", ""),
    ("box", "light gray", "black", "default", "", ""),
    ("body", "light gray", "black", "default", "", ""),
    ("item", "light gray", "black", "default", "", ""),
    ("item focus", "black", "light cyan", "standout", "", ""),
    ("item off", "dark gray", "black", "default", "", ""),
    ("item off focus", "dark gray", "light gray", "standout", "", ""),
    ("label", "white,bold", "black", "bold", "", ""),
    ("hint", "dark cyan", "black", "default", "", ""),
    ("key", "yellow,bold", "black", "bold", "", ""),
    ("edit", "white", "dark gray", "underline", "", ""),
    ("edit focus", "black", "light cyan", "standout", "", ""),
    ("choice", "light gray", "black", "default", "", ""),
    ("choice focus", "black", "light cyan", "standout", "", ""),
    ("button", "white", "dark blue", "bold", "", ""),
    ("button focus", "black", "light cyan", "standout", "", ""),
    ("warning", "yellow", "black", "bold", "", ""),
    ("error", "light red,bold", "black", "bold,underline", "", ""),
    ("plan title", "white,bold", "black", "bold", "", ""),
    ("busy", "yellow", "black", "bold", "", ""),
    ("done", "light green,bold", "black", "bold", "", ""),
    ("failed", "light red,bold", "black", "bold,standout", "", ""),
    ("cluster", "white,bold", "black", "bold", "", ""),
    ("alarm", "light red", "black", "bold", "", ""),
]
