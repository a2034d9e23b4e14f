"""Practice staff: who is signed in at a practice, and what their role lets them do."""
