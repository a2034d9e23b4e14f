"""Find a slot, book it, cancel it."""
