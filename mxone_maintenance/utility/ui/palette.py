"""The palette: every entry readable in each colour mode a terminal may have.

urwid picks one setting per entry by the terminal's colour count: the 16-colour pair (foreground,
background), the monochrome one (mono: standout, bold, underline, faint) or, on 88, 256 and 24-bit
terminals, the high pair. The high pair is always given: an empty one means "the terminal's default
colour", which on xterm-256color hid the focus, the dimming and the red of errors.

What a technician must tell apart, in every mode: the focus (a bright cyan bar; reverse video in
monochrome), an item that cannot be used now (dim grey; faint), and an error (red, bold; bold and
underlined)."""
from __future__ import annotations

# High colours as #rgb: urwid maps them to the nearest of 88 or 256 colours, or sends them as 24-bit.
TEXT, DIM, PAPER = "#ccc", "#666", "#000"
FOCUS_TEXT, FOCUS_PAPER = "#000", "#5dd"
OFF_FOCUS_PAPER = "#888"
BLUE = "#028"
RED, YELLOW, GREEN, CYAN = "#f55", "#fd0", "#5f5", "#0aa"

# (name, foreground, background, mono, foreground_high, background_high)
PALETTE: list[tuple[str, str, str, str, str, str]] = [
    ("background", "light gray", "black", "default", TEXT, PAPER),
    ("header", "white,bold", "dark blue", "standout", "#fff,bold", BLUE),
    ("footer", "black", "light gray", "standout", "#000", "#aaa"),
    ("box", "light gray", "black", "default", TEXT, PAPER),
    ("body", "light gray", "black", "default", TEXT, PAPER),
    ("item", "light gray", "black", "default", TEXT, PAPER),
    ("item focus", "black", "light cyan", "standout", FOCUS_TEXT, FOCUS_PAPER),
    ("item off", "dark gray", "black", "faint", DIM, PAPER),
    ("item off focus", "black", "light gray", "standout,faint", "#333", OFF_FOCUS_PAPER),
    ("label", "white,bold", "black", "bold", "#fff,bold", PAPER),
    ("hint", "dark cyan", "black", "default", CYAN, PAPER),
    ("key", "yellow,bold", "black", "bold", f"{YELLOW},bold", PAPER),
    ("edit", "white", "dark gray", "underline", "#fff", "#444"),
    ("edit focus", "black", "light cyan", "standout", FOCUS_TEXT, FOCUS_PAPER),
    ("choice", "light gray", "black", "default", TEXT, PAPER),
    ("choice focus", "black", "light cyan", "standout", FOCUS_TEXT, FOCUS_PAPER),
    ("button", "white", "dark blue", "bold", "#fff", BLUE),
    ("button focus", "black", "light cyan", "standout", FOCUS_TEXT, FOCUS_PAPER),
    ("warning", "yellow", "black", "bold", YELLOW, PAPER),
    ("error", "light red,bold", "black", "bold,underline", f"{RED},bold", PAPER),
    ("plan title", "white,bold", "black", "bold", "#fff,bold", PAPER),
    ("busy", "yellow", "black", "bold", YELLOW, PAPER),
    ("done", "light green,bold", "black", "bold", f"{GREEN},bold", PAPER),
    ("failed", "light red,bold", "black", "bold,standout", f"{RED},bold", PAPER),
    ("cluster", "white,bold", "black", "bold", "#fff,bold", PAPER),
    ("alarm", "light red", "black", "bold", RED, PAPER),
]
